"""Paginators, one module per way an API pages: Liine's timestamp cursor, page-number
passes over a list that may shift (conversations), and lists paged together (Interactly)."""
