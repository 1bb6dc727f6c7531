"""Benchmarks (`manage.py bench cfdi|cycle|tenants`): a development tool, not part of the product.

This app is installed only where the benchmarks and the tests run (bench.settings,
which manage.py picks for `manage.py bench`, and sageconnect.test_settings);
sync, cfdi, tenants and sageconnect never import it.
"""
