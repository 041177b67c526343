"""Merchants, stores, reviewed offers, and offers near a cardholder who asked for them."""
