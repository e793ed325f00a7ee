"""Paginators, one module per API and the way it pages: Liine's timestamp cursor
(liine_cursor), page-number passes over a list that may shift (conversations_passes), and
lists paged together (interactly_lists)."""
