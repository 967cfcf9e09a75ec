"""Knowledge as data: codes, glossary, limits, breakpoints, each row with its source."""
