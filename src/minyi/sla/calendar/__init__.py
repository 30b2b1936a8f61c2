"""The business calendar: working days and hours, and deadlines counted on them."""
