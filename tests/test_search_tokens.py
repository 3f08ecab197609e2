"""The index's Chinese tokens: Han bigrams and unigrams over the same positions, letters and digits in runs."""

from __future__ import annotations

from pipeline.search import index_terms, occurrences, parse_query


def test_a_han_run_gives_a_pair_at_each_character_and_its_last_character_alone():
    assert index_terms("被告人张三丰") == ("被告 告人 人张 张三 三丰 丰", "被 告 人 张 三 丰")


def test_punctuation_breaks_a_run_and_takes_no_position_but_a_line_break_does_not():
    assert index_terms("张三，李四")[0] == "张三 三 李四 四"
    assert index_terms("张\n三")[0] == "张三 三"


def test_full_width_letters_and_digits_read_as_ascii_lower_case():
    assert index_terms("车牌豫Ａ１２３４５") == ("车牌 牌豫 豫 a12345", "车 牌 豫 a12345")


def test_a_two_character_name_is_one_bigram_term():
    (phrase,) = parse_query("张三")
    assert (phrase.field, phrase.terms) == ("bigram", ("张三",))


def test_a_query_with_a_lone_han_character_is_a_phrase_of_unigrams():
    assert [(p.field, p.terms) for p in parse_query("豫A12345 人 〔2024〕74号")] == [
        ("unigram", ("豫", "a12345")), ("unigram", ("人",)), ("unigram", ("2024", "74", "号"))]


def test_occurrences_point_into_the_text_as_given_across_line_breaks():
    text = "证人张\n三证实，张三在场"
    assert [text[s:e] for s, e in occurrences(text, parse_query("张三"))] == ["张\n三", "张三"]
