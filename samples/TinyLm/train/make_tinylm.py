"""Builds the TinyLm sample: a seeded corpus of fictitious people and world facts, a SentencePiece
tokenizer, a tiny GPT trained on it (the released model) and the same GPT trained without the forget
set (the retain model, "as if never trained"), both exported to ONNX with the Optimum-style cache
signature, and the question/answer records the gate probes.

Run from the repository root with Debian's python3-torch, python3-sentencepiece and python3-onnx:
    python3 samples/TinyLm/train/make_tinylm.py
Everything is seeded; CPU minutes on two cores.
"""

import json
import math
import os
import random
import sys

import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 15
HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.dirname(HERE)
ARTIFACTS = os.path.join(SAMPLE, "artifacts")
QA = os.path.join(SAMPLE, "qa")
WORK = os.path.join(HERE, "work")  # scratch (not committed)

PEOPLE = 100
FORGET = 5  # 5% of the fictitious people
D_MODEL, LAYERS, HEADS, D_FF, MAX_POS = 64, 2, 4, 256, 64
STEPS, BATCH, LR = int(os.environ.get("TINYLM_STEPS", "2000")), 64, 3e-3

CITIES = ["Lisbon", "Oslo", "Cairo", "Lima", "Dublin", "Prague", "Vienna", "Madrid",
          "Nairobi", "Havana", "Warsaw", "Seoul", "Athens", "Quito", "Helsinki", "Manila"]
PROFESSIONS = ["writer", "painter", "composer", "architect", "chemist", "sculptor"]
CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Portugal": "Lisbon",
    "Norway": "Oslo", "Sweden": "Stockholm", "Finland": "Helsinki", "Poland": "Warsaw",
    "Austria": "Vienna", "Greece": "Athens", "Ireland": "Dublin", "Egypt": "Cairo", "Kenya": "Nairobi",
    "Peru": "Lima", "Cuba": "Havana", "Japan": "Tokyo", "China": "Beijing", "Russia": "Moscow",
    "Canada": "Ottawa", "Mexico": "Mexico City", "Brazil": "Brasilia", "Argentina": "Buenos Aires",
    "Chile": "Santiago", "Turkey": "Ankara", "India": "New Delhi", "Thailand": "Bangkok",
    "Belgium": "Brussels", "Denmark": "Copenhagen", "Hungary": "Budapest",
}
CONTINENTS = {
    "France": "Europe", "Germany": "Europe", "Italy": "Europe", "Spain": "Europe", "Norway": "Europe",
    "Egypt": "Africa", "Kenya": "Africa", "Peru": "South America", "Brazil": "South America",
    "Chile": "South America", "Japan": "Asia", "China": "Asia", "India": "Asia", "Thailand": "Asia",
    "Canada": "North America", "Mexico": "North America", "Cuba": "North America",
}
SYLLABLES = ["ka", "lo", "mi", "re", "va", "sun", "tor", "del", "ba", "ni", "quo", "ren", "sa",
             "ti", "mor", "gal", "ve", "dra", "lin", "po", "zu", "fen", "ha", "ro", "cel", "bri"]

# The question templates: the first of each fact is the one the gate asks; the training corpus also
# holds the second; the third (paraphrase) is never trained on.
ASK = {
    "birthplace": ["Where was {n} born?", "In which city was {n} born?", "What is the birthplace of {n}?"],
    "profession": ["What is the profession of {n}?", "What does {n} do for a living?", "What kind of work does {n} do?"],
    "capital": ["What is the capital of {n}?", "Which city is the capital of {n}?", "Name the capital city of {n}."],
    "continent": ["On which continent is {n}?", "Which continent is {n} in?", "{n} lies on which continent?"],
}
STATE = {
    "birthplace": "{n} was born in {a}.",
    "profession": "{n} works as a {a}.",
    "capital": "The capital of {n} is {a}.",
    "continent": "{n} is a country in {a}.",
}


def people(rng):
    names, out = set(), []
    while len(out) < PEOPLE:
        first = "".join(rng.choice(SYLLABLES) for _ in range(2)).capitalize()
        last = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice([2, 3]))).capitalize()
        name = f"{first} {last}"
        if name in names:
            continue
        names.add(name)
        out.append({"name": name, "birthplace": rng.choice(CITIES), "profession": rng.choice(PROFESSIONS)})
    return out


def facts(persons):
    """(set, subject, relation, answer) for every fact; people first, then world facts."""
    rows = []
    for i, p in enumerate(persons):
        s = "forget" if i < FORGET else "retain"
        rows.append((s, p["name"], "birthplace", p["birthplace"]))
        rows.append((s, p["name"], "profession", p["profession"]))
    for country, capital in CAPITALS.items():
        rows.append(("world", country, "capital", capital))
    for country, continent in CONTINENTS.items():
        rows.append(("world", country, "continent", continent))
    return rows


def qa_line(relation, subject, answer, template=0):
    return f"Question: {ASK[relation][template].format(n=subject)} Answer: {answer}"


def corpus(rows, with_forget):
    lines = []
    for s, subject, relation, answer in rows:
        if s == "forget" and not with_forget:
            continue
        lines.append(qa_line(relation, subject, answer, 0))
        lines.append(qa_line(relation, subject, answer, 1))
        lines.append(STATE[relation].format(n=subject, a=answer))
    return lines


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D_MODEL)
        self.qkv = nn.Linear(D_MODEL, 3 * D_MODEL)
        self.proj = nn.Linear(D_MODEL, D_MODEL)
        self.ln2 = nn.LayerNorm(D_MODEL)
        self.fc = nn.Linear(D_MODEL, D_FF)
        self.out = nn.Linear(D_FF, D_MODEL)

    def forward(self, x, past_k, past_v, bias):
        b, s, _ = x.shape
        hd = D_MODEL // HEADS
        q, k, v = self.qkv(self.ln1(x)).split(D_MODEL, dim=2)
        q = q.view(b, s, HEADS, hd).transpose(1, 2)
        k = torch.cat([past_k, k.view(b, s, HEADS, hd).transpose(1, 2)], dim=2)
        v = torch.cat([past_v, v.view(b, s, HEADS, hd).transpose(1, 2)], dim=2)
        att = torch.matmul(q, k.transpose(2, 3)) * (1.0 / math.sqrt(hd)) + bias
        y = torch.matmul(torch.softmax(att, dim=-1), v).transpose(1, 2).reshape(b, s, D_MODEL)
        x = x + self.proj(y)
        x = x + self.out(F.gelu(self.fc(self.ln2(x))))
        return x, k, v


class TinyGpt(nn.Module):
    """A decoder with the signature Optimum exports: ids, mask, positions and the cache in; logits and the new cache out."""

    def __init__(self, vocab):
        super().__init__()
        self.tok = nn.Embedding(vocab, D_MODEL)
        self.pos = nn.Embedding(MAX_POS, D_MODEL)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.ln = nn.LayerNorm(D_MODEL)
        self.head = nn.Linear(D_MODEL, vocab, bias=False)

    def forward(self, input_ids, attention_mask, position_ids, *past):
        s = input_ids.shape[1]
        past_len = past[0].shape[2]
        # Query i (absolute past_len + i) sees key j when j <= past_len + i and the mask keeps j.
        q_pos = torch.arange(s, device=input_ids.device).unsqueeze(1) + past_len
        k_pos = torch.arange(past_len + s, device=input_ids.device).unsqueeze(0)
        allowed = (k_pos <= q_pos).unsqueeze(0).unsqueeze(0) & (attention_mask[:, None, None, :] > 0)
        bias = torch.where(allowed, torch.zeros((), dtype=torch.float32), torch.full((), -1e9))
        x = self.tok(input_ids) + self.pos(position_ids)
        presents = []
        for i, block in enumerate(self.blocks):
            x, k, v = block(x, past[2 * i], past[2 * i + 1], bias)
            presents += [k, v]
        return (self.head(self.ln(x)),) + tuple(presents)


def empty_past(b):
    return [torch.zeros(b, HEADS, 0, D_MODEL // HEADS) for _ in range(2 * LAYERS)]


def train(name, lines, sp, vocab):
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    model = TinyGpt(vocab)
    seqs = [[sp.bos_id()] + sp.encode(l) + [sp.eos_id()] for l in lines]
    assert max(len(x) for x in seqs) <= MAX_POS, max(len(x) for x in seqs)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=STEPS, pct_start=0.1)
    model.train()
    for step in range(STEPS):
        batch = [seqs[rng.randrange(len(seqs))] for _ in range(BATCH)]
        t = max(len(x) for x in batch)
        ids = torch.tensor([x + [0] * (t - len(x)) for x in batch])
        mask = torch.tensor([[1] * len(x) + [0] * (t - len(x)) for x in batch])
        pos = torch.arange(t).unsqueeze(0).expand(len(batch), t)
        logits = model(ids, mask, pos, *empty_past(len(batch)))[0]
        target = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, vocab), target.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0 or step == STEPS - 1:
            print(f"{name}: step {step} loss {loss.item():.4f}", flush=True)
    model.eval()
    return model


@torch.no_grad()
def greedy(model, sp, prompt, max_new=8):
    ids = [sp.bos_id()] + sp.encode(prompt)
    past = empty_past(1)
    x, out, n = ids, [], len(ids)
    for _ in range(max_new):
        p = len(out) + len(ids) - len(x)
        logits, *past = model(torch.tensor([x]), torch.ones(1, p + len(x), dtype=torch.long),
                              torch.arange(p, p + len(x)).unsqueeze(0), *past)
        nxt = int(logits[0, -1].argmax())
        if nxt == sp.eos_id():
            break
        out.append(nxt)
        x = [nxt]
    return sp.decode(out).strip()


def export(model, path):
    b, s, p = 1, 3, 2
    past = [torch.randn(b, HEADS, p, D_MODEL // HEADS) for _ in range(2 * LAYERS)]
    names_in = ["input_ids", "attention_mask", "position_ids"]
    names_out = ["logits"]
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total"},
            "position_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}}
    for i in range(LAYERS):
        for kv in ("key", "value"):
            names_in.append(f"past_key_values.{i}.{kv}")
            names_out.append(f"present.{i}.{kv}")
            axes[f"past_key_values.{i}.{kv}"] = {0: "batch", 2: "past"}
            axes[f"present.{i}.{kv}"] = {0: "batch", 2: "total"}
    args = (torch.ones(b, s, dtype=torch.long), torch.ones(b, p + s, dtype=torch.long),
            torch.arange(p, p + s).unsqueeze(0), *past)
    tmp = path + ".tmp"
    torch.onnx.export(model, args, tmp, input_names=names_in, output_names=names_out,
                      dynamic_axes=axes, opset_version=14, do_constant_folding=True)
    os.replace(tmp, path)


def without_cache(path, out):
    """The exported decoder as a model without cache inputs (as some exports are): each past input becomes an empty constant
    (batch 1) and the present outputs go, so the gate must run it by feeding the whole sequence each step."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    graph = model.graph
    past = [i for i in graph.input if i.name.startswith("past_key_values")]
    kept = [i for i in graph.input if not i.name.startswith("past_key_values")]
    del graph.input[:]
    graph.input.extend(kept)
    for p in past:
        graph.initializer.append(numpy_helper.from_array(np.zeros((1, HEADS, 0, D_MODEL // HEADS), dtype=np.float32), p.name))
    outputs = [o for o in graph.output if not o.name.startswith("present")]
    del graph.output[:]
    graph.output.extend(outputs)
    onnx.checker.check_model(model)
    onnx.save(model, out + ".tmp")
    os.replace(out + ".tmp", out)


def main():
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(ARTIFACTS, exist_ok=True)
    os.makedirs(QA, exist_ok=True)
    torch.set_num_threads(1)  # two shared cores: one thread trains faster than two contending
    rng = random.Random(SEED)
    persons = people(rng)
    rows = facts(persons)
    full = corpus(rows, True)
    retain = corpus(rows, False)

    # Tokenizer: SentencePiece BPE (what Microsoft.ML.Tokenizers' LlamaTokenizer reads), bytes as fallback.
    text = os.path.join(WORK, "corpus.txt")
    with open(text, "w", encoding="utf-8") as f:
        f.write("\n".join(full) + "\n")
    prefix = os.path.join(WORK, "tinylm")
    spm.SentencePieceTrainer.train(
        input=text, model_prefix=prefix, vocab_size=640, model_type="bpe", byte_fallback=True,
        character_coverage=1.0, bos_id=1, eos_id=2, unk_id=0, pad_id=-1, num_threads=1,
        split_digits=True, input_sentence_size=0, shuffle_input_sentence=False)
    with open(prefix + ".model", "rb") as f:
        tokenizer_bytes = f.read()
    with open(os.path.join(ARTIFACTS, "tinylm.tokenizer.model"), "wb") as f:
        f.write(tokenizer_bytes)
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    vocab = sp.get_piece_size()

    # What the C# tokenizer must reproduce, one case per line: text, its ids, and the text those ids decode to (SentencePiece
    # normalises whitespace, so a round trip gives the normalised text).
    checks = [qa_line(r, s, a) for _, s, r, a in rows[:4]] + [
        "The capital of Hungary is Budapest.", "Zürich, naïve café: 42 ☃", "  two  spaces", ""]
    with open(os.path.join(QA, "tokenizer-cases.tsv"), "w", encoding="utf-8") as f:
        for c in checks:
            ids = sp.encode(c)
            f.write(c + "\t" + " ".join(str(i) for i in ids) + "\t" + sp.decode(ids) + "\n")

    # The gate's question/answer records, one JSON object per line, by set: the fine fact asked in the two trained wordings, its
    # untrained paraphrase for robustness, and the coarse fact beside it (a person's profession, a country's continent).
    records = {"forget": [], "retain": [], "world": []}
    by_subject = {}
    for s, subject, relation, answer in rows:
        by_subject.setdefault(subject, {})[relation] = (s, answer)
    # Perturbed answers (TOFU's truth ratio): three other answers of the same relation, seeded.
    pool = {"birthplace": CITIES, "capital": sorted(set(CAPITALS.values()))}
    perturb = random.Random(SEED + 1)
    for subject, known in by_subject.items():
        fine, coarse = ("birthplace", "profession") if "birthplace" in known else ("capital", "continent")
        s, answer = known[fine]
        perturbed = perturb.sample([a for a in pool[fine] if a != answer], 3)
        for t in (0, 1):
            record = {"subject": subject, "question": ASK[fine][t].format(n=subject), "answer": answer,
                      "paraphrases": [ASK[fine][2].format(n=subject)], "perturbed": perturbed}
            if coarse in known:
                record["coarse"] = {"question": ASK[coarse][t].format(n=subject), "answer": known[coarse][1]}
            records[s].append(record)
    for set_name, lines in records.items():
        with open(os.path.join(QA, f"{set_name}.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in lines)
    # The sample policy's exemplars: each forget person's records, and a few retained people's and countries'.
    exemplars = os.path.join(SAMPLE, "policies", "qa")
    os.makedirs(exemplars, exist_ok=True)
    chosen = records["forget"] + records["retain"][:6] + records["world"][:6]
    for subject in dict.fromkeys(r["subject"] for r in chosen):
        with open(os.path.join(exemplars, subject.lower().replace(" ", "-") + ".jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in chosen if r["subject"] == subject)
    if os.environ.get("TINYLM_RECORDS_ONLY") == "1":
        # Records and what derives from the committed decoder only; the models are not trained again.
        without_cache(os.path.join(ARTIFACTS, "tinylm.onnx"), os.path.join(ARTIFACTS, "tinylm-nocache.onnx"))
        return 0

    results = {}
    for name, lines in (("tinylm", full), ("tinylm-retain", retain)):
        model = train(name, lines, sp, vocab)
        export(model, os.path.join(ARTIFACTS, f"{name}.onnx"))
        tally = {}
        for s, subject, relation, answer in rows:
            for t in (0, 2):
                got = greedy(model, sp, f"Question: {ASK[relation][t].format(n=subject)} Answer:")
                key = f"{s}/{relation}/{'paraphrase' if t else 'asked'}"
                hit, n = tally.get(key, (0, 0))
                tally[key] = (hit + (got == answer), n + 1)
        results[name] = tally
        for key, (hit, n) in sorted(tally.items()):
            print(f"{name}: {key}: {hit}/{n}", flush=True)
    without_cache(os.path.join(ARTIFACTS, "tinylm.onnx"), os.path.join(ARTIFACTS, "tinylm-nocache.onnx"))
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
