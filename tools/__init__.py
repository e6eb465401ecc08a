"""Tools that build the book from its sources; not part of the attnbook package readers install."""
