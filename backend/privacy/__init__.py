"""Privacy notices, erasure of an account, and purging what is past its retention."""
