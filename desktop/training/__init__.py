"""The Train page: settings, pre-flight, a QThread-hosted training run and its live monitor."""
