"""Benchmark: 1,000 contact cards to a print-ready PDF, next to the bare QR matrices they need.

    make bench                                  # or: .venv/bin/python bench/cards_bench.py
    .venv/bin/python bench/cards_bench.py --profile   # where the PDF's time goes

The floor is what no card PDF can avoid: the qrcode library building each card's module matrix
(error correction M, best mask chosen). The PDF run builds the same matrices and adds everything
else (layout, vector drawing, the CJK font loaded and subset, compression). Goal: the whole PDF
costs at most 1.5x the floor, i.e. cards_ratio = floor time / PDF time >= 0.67. Libraries are
imported before timing (a one-off cost of the process, not of a print run); the font is loaded
inside the timed PDF run. Each side runs ``--repeat`` times and the fastest run counts.

Prints a table and merges cards_per_s, qr_floor_per_s and cards_ratio into bench/results.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import merge_results  # noqa: E402
from cards.fonts import find_cjk_font  # noqa: E402
from cards.layout import PER_PAGE, CardFace  # noqa: E402
from cards.printing import render_pdf  # noqa: E402
from cards.qr import qr_matrix  # noqa: E402
from cards.tokens import card_link, new_card_token  # noqa: E402

GOAL = 1 / 1.5
ZONES = ("安居经开区纪工委", "安居镇纪委", "玉丰镇纪委", "西眉镇纪委", "安居区纪委监委")
KINDS = ("新材料科技有限公司", "农业发展有限责任公司", "建筑工程有限公司", "食品股份有限公司")


def make_faces(count: int, bot_username: str) -> list[CardFace]:
    """Cards as an import would make them: fresh tokens, names of realistic length."""
    return [
        CardFace(
            ZONES[n % len(ZONES)],
            f"遂宁市安居区第{n + 1}号{KINDS[n % len(KINDS)]}",
            card_link(bot_username, new_card_token()),
            "0825-12388",
            "12388",
        )
        for n in range(count)
    ]


def time_floor(links: list[str]) -> float:
    start = time.perf_counter()
    for link in links:
        qr_matrix(link)
    return time.perf_counter() - start


def time_pdf(faces: list[CardFace]) -> tuple[float, int]:
    start = time.perf_counter()
    pdf = render_pdf(faces)
    return time.perf_counter() - start, len(pdf)


def profile(faces: list[CardFace]) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(render_pdf, faces)
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2, help="runs per side; the fastest counts")
    parser.add_argument("--bot-username", default="LiankaBot")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--profile", action="store_true", help="profile one PDF run instead")
    args = parser.parse_args()

    import fpdf  # noqa: F401  (imported before timing: a process start-up cost)
    import PIL  # noqa: F401

    font = find_cjk_font()
    font.path.read_bytes()  # the font file in the page cache, as on a machine in use
    faces = make_faces(args.cards, args.bot_username)
    if args.profile:
        profile(faces)
        return 0
    links = [face.link for face in faces]
    floor_runs, pdf_runs = [], []
    size = 0
    for _ in range(max(1, args.repeat)):
        floor_runs.append(time_floor(links))
        seconds, size = time_pdf(faces)
        pdf_runs.append(seconds)
    floor, cards = min(floor_runs), min(pdf_runs)
    figures = {
        "cards_per_s": round(args.cards / cards, 1),
        "qr_floor_per_s": round(args.cards / floor, 1),
        "cards_ratio": round(floor / cards, 3),
    }
    pages = -(-args.cards // PER_PAGE)
    rows = [
        ("bare QR matrices (qrcode, EC M)", f"{floor:.2f}", f"{figures['qr_floor_per_s']:.1f}"),
        (
            f"cards to PDF ({pages} pages, {size / 1e6:.2f} MB)",
            f"{cards:.2f}",
            f"{figures['cards_per_s']:.1f}",
        ),
    ]
    print(f"{args.cards} cards, best of {max(1, args.repeat)} runs each")
    print(f"{'':40} {'seconds':>8} {'per second':>11}")
    for what, seconds_text, rate in rows:
        print(f"{what:40} {seconds_text:>8} {rate:>11}")
    verdict = "met" if figures["cards_ratio"] >= GOAL else "MISSED"
    print(
        f"cards_ratio = floor / PDF = {figures['cards_ratio']:.3f} "
        f"(goal >= {GOAL:.2f}, the PDF at most 1.5x the floor: {verdict})"
    )
    merge_results(dict(figures), args.results)
    print(f"written to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
