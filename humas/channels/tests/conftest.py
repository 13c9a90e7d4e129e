from humas.channels.tests.fakes import fake_network  # noqa: F401  (fixture)
