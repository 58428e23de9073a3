"""Test kits shipped with the library: port contract suites and hypothesis strategies.

Every adapter's test module subclasses the contract of its port and provides one fixture::

    from compute_pricing.testing.contracts import AccountStoreContract

    class TestMyAccountStore(AccountStoreContract):
        @pytest.fixture
        def store(self) -> AccountStore:
            return MyAccountStore(...)

Importing this package needs ``pytest`` (and ``hypothesis`` for the strategies); the library
itself never imports it.
"""
