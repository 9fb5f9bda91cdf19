#!/usr/bin/env python3
"""Builds the TextFacts general-utility word sets from Debian's WordNet (package wordnet-base).

Writes, reproducibly (fixed seed, sorted inputs):
  wordnet-synonyms.tsv    word <TAB> synonym <TAB> unrelated  -- a sentence encoder that keeps general
                          knowledge puts the synonym nearer the word than the unrelated noun;
  wordnet-similarity.tsv  word <TAB> word <TAB> wup           -- Wu-Palmer similarity of the two nouns'
                          first senses, for a Spearman correlation with embedding cosine.
Needs python3-nltk and wordnet-base (Debian). Usage: make_wordnet_sets.py OUTPUT_FOLDER
"""
import os, random, sys, tempfile, warnings

from nltk.corpus.reader.wordnet import WordNetCorpusReader

WORDNET = "/usr/share/wordnet"
SEED = 20251130
SYNONYM_ROWS = 300
SIMILARITY_ROWS = 300
MIN_COUNT = 8  # sense-tagged frequency (cntlist) a lemma needs to count as a common word
SYNONYM_MIN_COUNT = 2  # the same for the second lemma of a synonym pair (synonyms are rarer)

# Debian's wordnet-base lacks the lexnames file NLTK's reader wants; it is WordNet's fixed list of
# lexicographer files (wninput(5WN)), written here into a private copy of the dictionary folder.
LEXNAMES = """adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body
noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive
noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation
noun.shape noun.state noun.substance noun.time verb.body verb.change verb.cognition verb.communication
verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion verb.perception
verb.possession verb.social verb.stative verb.weather adj.ppl""".split()
POS = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}


def open_wordnet(folder):
    for name in os.listdir(WORDNET):
        os.symlink(os.path.join(WORDNET, name), os.path.join(folder, name))
    with open(os.path.join(folder, "lexnames"), "w") as f:
        for i, name in enumerate(LEXNAMES):
            f.write(f"{i:02d}\t{name}\t{POS[name.split('.')[0]]}\n")
    return WordNetCorpusReader(folder, None)


def common_nouns(wn):
    words = {}
    for synset in sorted(wn.all_synsets("n"), key=lambda s: s.name()):
        for lemma in synset.lemmas():
            name = lemma.name()
            if name.isalpha() and name.islower() and len(name) > 2 and lemma.count() >= MIN_COUNT:
                words.setdefault(name, synset)
    return words


def main(out):
    warnings.filterwarnings("ignore", message="The multilingual functions")
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as folder:
        wn = open_wordnet(folder)
        nouns = common_nouns(wn)
        vocabulary = sorted(nouns)
        # Synonym triples: two common single-word lemmas of one synset, and a common noun whose first
        # sense is far from it (Wu-Palmer below 0.3).
        pairs = []
        for synset in sorted(wn.all_synsets("n"), key=lambda s: s.name()):
            names = [l.name() for l in synset.lemmas()
                     if l.name().isalpha() and l.name().islower() and len(l.name()) > 2
                     and l.count() >= SYNONYM_MIN_COUNT]
            if len(names) >= 2 and max(l.count() for l in synset.lemmas()) >= MIN_COUNT:
                pairs.append((names[0], names[1], synset))
        rng.shuffle(pairs)
        used = set()
        triples = []
        for word, synonym, synset in pairs:
            if word in used or synonym in used:
                continue
            for _ in range(50):
                unrelated = rng.choice(vocabulary)
                if unrelated in (word, synonym):
                    continue
                similarity = synset.wup_similarity(nouns[unrelated])
                if similarity is not None and similarity < 0.3:
                    triples.append((word, synonym, unrelated))
                    used.update((word, synonym))
                    break
            if len(triples) == SYNONYM_ROWS:
                break
        # Graded pairs: stratified over Wu-Palmer bins so that the ranking is not dominated by far pairs.
        bins = {b: [] for b in range(5)}
        while min(len(v) for v in bins.values()) < SIMILARITY_ROWS // 5:
            a, b = rng.sample(vocabulary, 2)
            similarity = nouns[a].wup_similarity(nouns[b])
            if similarity is None:
                continue
            slot = min(int(similarity * 5), 4)
            if len(bins[slot]) < SIMILARITY_ROWS // 5:
                bins[slot].append((a, b, round(similarity, 4)))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "wordnet-synonyms.tsv"), "w") as f:
        f.write("word\tsynonym\tunrelated\n")
        for row in triples:
            f.write("\t".join(row) + "\n")
    with open(os.path.join(out, "wordnet-similarity.tsv"), "w") as f:
        f.write("word\tword2\twup\n")
        for slot in range(5):
            for a, b, s in bins[slot]:
                f.write(f"{a}\t{b}\t{s}\n")
    print(f"{len(triples)} synonym triples, {sum(len(v) for v in bins.values())} graded pairs -> {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
