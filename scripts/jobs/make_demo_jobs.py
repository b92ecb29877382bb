#!/usr/bin/env python3
"""Write N interior-design jobs (JSON lines) to stdout, deterministically.

Rooms x styles: most jobs generate a room from a prompt; every fourth one is an
edit of a photo of the room ("restyle this photo"). Same N, same output.

    python3 scripts/jobs/make_demo_jobs.py [N]      # default 500
"""
import json
import sys

ROOMS = ["living room", "bedroom", "kitchen", "bathroom", "home office",
         "dining room", "kids' room", "entryway", "studio apartment", "balcony"]
PHOTO = {"living room": "living", "bedroom": "bedroom", "kitchen": "kitchen", "bathroom": "bathroom",
         "home office": "office", "dining room": "dining", "kids' room": "kids", "entryway": "entry",
         "studio apartment": "studio", "balcony": "balcony"}
STYLES = [
    ("Scandinavian", "pale oak floors, white walls, linen textiles and soft daylight"),
    ("industrial loft", "exposed brick, black steel window frames and concrete floors"),
    ("art deco", "brass details, velvet upholstery and geometric patterns"),
    ("Japandi", "low furniture, natural wood, paper lamps and muted earth tones"),
    ("mid-century modern", "walnut furniture, tapered legs and mustard accents"),
    ("coastal", "whitewashed wood, rattan, and sea-blue textiles"),
    ("boho", "layered rugs, macrame, plants and warm terracotta"),
    ("minimalist", "clean lines, hidden storage and a calm neutral palette"),
    ("rustic farmhouse", "reclaimed wood beams, shiplap and vintage fixtures"),
    ("maximalist", "bold wallpaper, jewel tones and a gallery wall"),
]
RATIOS = ["16:9", "4:3", "1:1", "3:2", "4:5"]
FORMATS = ["png", "jpeg", "png", "jpg"]


def jobs(n):
    for i in range(n):
        room = ROOMS[i % len(ROOMS)]
        style, detail = STYLES[(i // len(ROOMS) + i) % len(STYLES)]
        job = {"id": "room-%04d" % (i + 1)}
        if i % 4 == 3:
            photo = "https://example.com/rooms/%s-%d.jpg" % (PHOTO[room], i % 3 + 1)
            job.update(operation="edit",
                       prompt="Restyle this %s in %s style: %s. Keep the layout, windows and doors "
                              "where they are; photorealistic." % (room, style, detail),
                       image_urls=[photo])
        else:
            job.update(operation="generate",
                       prompt="A photorealistic %s in %s style, %s, wide-angle interior photography"
                              % (room, style, detail))
        job.update(aspect_ratio=RATIOS[i % len(RATIOS)], output_format=FORMATS[i % len(FORMATS)],
                   metadata={"chat_id": 1000 + i % 37, "room": room, "style": style})
        yield job


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    out = sys.stdout
    for job in jobs(n):
        out.write(json.dumps(job, separators=(", ", ": ")) + "\n")


if __name__ == "__main__":
    main()
