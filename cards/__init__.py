"""Contact cards: tokens and links, QR matrices, the print layout (PDF/PNG) and the CSV import.

Nothing here imports aiogram; the PDF and image libraries are imported only by ``cards.printing``.
"""
