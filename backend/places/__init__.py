"""Branches, ATMs and partner outlets; nearby search; repayment points."""
