"""The checks, one module per area; each check records evidence against requirement ids."""
