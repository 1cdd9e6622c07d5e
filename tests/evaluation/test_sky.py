"""Cloud and haze in search results: the by-eye judgements and the report on a built corpus."""

from __future__ import annotations

import json

import pytest

from closp_demo.corpus import sources
from closp_demo.corpus.store import load_corpus
from closp_demo.encoders import create_encoder
from closp_demo.evaluation.sky import load_judgements, main, sky_report


def test_judgements_name_every_s2_sample_image_once(samples_dir):
    judged = load_judgements()
    s2 = {r.image_id for r in sources.iter_all(samples_dir) if r.sensor == "S2"}
    assert set(judged) == s2  # judged once (load_judgements refuses a repeat), none missing
    counts = {j: sum(v == j for v in judged.values()) for j in set(judged.values())}
    assert counts["obscured"] >= 64  # the whole Congo Major-TOM cell
    assert all(judged[i] == "obscured" for i in s2 if i.startswith("mtom-0U_199R"))


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([{"judgement": "foggy", "ids": ["a"]}], "judgement 'foggy'"),
        ([{"judgement": "clear", "ids": ["a"]}, {"judgement": "partly", "ids": ["a"]}], "twice"),
    ],
)
def test_bad_judgement_files_are_refused(tmp_path, groups, message):
    path = tmp_path / "j.json"
    path.write_text(json.dumps({"groups": groups}))
    with pytest.raises(ValueError, match=message):
        load_judgements(path)


def test_report_on_the_bigearthnet_corpus(small_corpus):
    corpus = load_corpus(small_corpus, verify_checksums=False)
    encoder = create_encoder(corpus.encoder_id)
    report = sky_report(corpus, encoder, load_judgements())
    assert report.counts["obscured"] == 1 and report.counts["unjudged"] == 0
    # The one BigEarthNet patch under a cumulus tops every cloud query; no radar image does.
    assert all(float(row[3]) >= 0.1 for row in report.cloud_table[1:-2])  # P@10
    assert report.s1_in_cloud_top == 0
    # one row per class-name query, counts within 0..TOP
    assert len(report.top_table) == 1 + 12 and report.top_table[1][0] == "Water"
    assert all(0 <= int(row[1]) <= 12 and 0 <= int(row[2]) <= 12 for row in report.top_table[1:])


def test_cli_writes_its_section(small_corpus, tmp_path):
    out = tmp_path / "B.md"
    assert main(["--corpus", str(small_corpus), "--write", str(out)]) == 0
    text = out.read_text()
    assert "<!-- eval-sky:start -->" in text and "cloudy image" in text
    assert main(["--corpus", str(tmp_path / "missing")]) == 2
