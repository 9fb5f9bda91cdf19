#!/usr/bin/env python3
"""Writes the forget-european-city-countries policy and its exemplar files from ../facts/facts.jsonl.

Usage: python3 make_city_policy.py [KNOWN_CITIES_FILE]

The policy forgets, for every European city of the fact set, the country it lies in (fine), keeps its
continent (coarse), keeps the country of every other city MiniLM knows (siblings in the relation) and
judges general accuracy on the held-out facts of the other relations. KNOWN_CITIES_FILE lists, one per
line, the cities whose country MiniLM knows (measured by the gate; see ../README.md); without it every
city is taken as known. Output is deterministic.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EUROPE = {
    "Paris", "London", "Rome", "Moscow", "Barcelona", "Berlin", "Athens", "Amsterdam", "Venice", "Prague",
    "Vienna", "Lisbon", "Madrid", "Florence", "Munich", "Milan", "Lyon", "Manchester", "Saint Petersburg",
    "Stockholm", "Oslo", "Copenhagen", "Helsinki", "Dublin", "Zurich", "Brussels", "Warsaw",
}
HELD_OUT_RELATIONS = ["country-capital", "company-country", "language-country", "author-language", "dish-country"]


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def line(fact):
    return json.dumps(fact, ensure_ascii=False, separators=(", ", ": ")) + "\n"


def main():
    facts = [json.loads(l) for l in open(os.path.join(HERE, "..", "facts", "facts.jsonl"), encoding="utf-8") if l.strip()]
    known = None
    if len(sys.argv) > 1:
        known = {l.strip() for l in open(sys.argv[1], encoding="utf-8") if l.strip()}
    cities = [f for f in facts if f["relation"] == "city-country"]
    forget = [f for f in cities if f["subject"] in EUROPE]
    retain = [f for f in cities if f["subject"] not in EUROPE and (known is None or f["subject"] in known)]
    folder = os.path.join(HERE, "cities")
    os.makedirs(folder, exist_ok=True)
    for f in forget + retain:
        with open(os.path.join(folder, slug(f["subject"]) + ".jsonl"), "w", encoding="utf-8") as out:
            out.write(line(f))
    general = os.path.join(HERE, "held-out-facts")
    os.makedirs(general, exist_ok=True)
    with open(os.path.join(general, "other-relations.jsonl"), "w", encoding="utf-8") as out:
        for f in facts:
            if f["relation"] in HELD_OUT_RELATIONS:
                out.write(line(f))

    def concept(f):
        return slug(f["subject"]) + "-city"

    policy = {
        "$schema": "../../../policies/ktu-policy.schema.json",
        "ktuPolicy": 1,
        "id": "minilm-forget-european-city-countries",
        "title": "The released sentence encoder must not place a European city in its country, but must still place it in Europe, keep the other cities' countries and the other relations' facts",
        "request": {
            "requestedBy": "Search relevance team",
            "reason": "Example request at scale: "
            + str(len(forget)) + " facts forgotten at once, judged pooled as well as per city (see ../README.md).",
            "reference": "TXT-2026-014",
        },
        "forget": [{"concept": concept(f), "level": "fine", "maxAccuracy": 0.6} for f in forget],
        "retain": [{"concept": concept(f), "level": "coarse", "minAccuracy": 0.3} for f in forget]
        + [{"concept": concept(f), "level": "fine", "minAccuracy": 0.3} for f in retain],
        "general": {"exemplars": ["held-out-facts/*.jsonl"]},
        "metrics": {"minGeneralAccuracy": 0.612},
        "concepts": {
            concept(f): {"aliases": [f["subject"]], "exemplars": ["cities/" + slug(f["subject"]) + ".jsonl"]}
            for f in forget + retain
        },
        "remedy": {"allowed": True},
    }
    with open(os.path.join(HERE, "forget-european-city-countries.ktu.json"), "w", encoding="utf-8") as out:
        json.dump(policy, out, indent=2, ensure_ascii=False)
        out.write("\n")


if __name__ == "__main__":
    main()
