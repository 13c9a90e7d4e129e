from humas.channels import engagement


def test_engagement_adds_the_counts_the_network_gives_and_ignores_views():
    metrics = {"likes": 10, "reposts": 2, "replies": 3, "quotes": 1, "views": 900}
    assert engagement.from_metrics(metrics) == 16


def test_a_network_that_gives_no_counts_has_no_engagement_rather_than_zero():
    assert engagement.from_metrics({"views": 40}) is None
    assert engagement.from_metrics({}) is None
    assert engagement.from_metrics(None) is None


def test_counts_that_are_not_numbers_are_treated_as_not_given():
    assert engagement.from_metrics({"likes": "7", "reposts": "banyak", "replies": None}) == 7
    assert engagement.total([None, 0, None]) == 0
