"""Inpainting image-mask pairs: COCO selection, mask decoding, geometry, pair sets, prompts."""

from __future__ import annotations

import json
import random
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils

from seedscope.errors import ConfigError, DataError
from seedscope.inpainting.pairs import (
    PAIR_KEYS,
    decode_segmentation,
    demo_pairs,
    dilate_mask,
    inpainting_prompts,
    load_pair,
    make_pair,
    read_pair_set,
    select_pairs,
    write_pair_set,
    write_pairs,
)
from seedscope.prompts.coco import make_demo_images
from seedscope.prompts.rows import read_prompts, write_prompts

CATEGORIES = [{"id": 1, "name": "dog"}, {"id": 2, "name": "cup"}, {"id": 3, "name": "chair"}]


def rect(x, y, w, h):
    """A COCO polygon (one ring) of the rectangle [x, x+w] x [y, y+h]."""
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def annotation(ann_id, image_id, segmentation, height, width, category=1, iscrowd=0):
    """A COCO annotation whose area and bbox pycocotools computes from the segmentation."""
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation["counts"], list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = dict(segmentation, counts=segmentation["counts"].encode())
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category,
        "segmentation": segmentation,
        "area": float(mask_utils.area(rle)),
        "bbox": [float(v) for v in mask_utils.toBbox(rle)],
        "iscrowd": iscrowd,
    }


def compressed_rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE (column-major run lengths, starting with a run of zeros)."""
    flat = mask.astype(np.uint8).flatten(order="F")
    counts, current, run = [], 0, 0
    for value in flat:
        if value != current:
            counts.append(run)
            current, run = value, 0
        run += 1
    counts.append(run)
    return {"size": list(mask.shape), "counts": counts}


def build_coco():
    """A small instances file: crowd objects, objects too small and too large, polygons and
    both kinds of RLE, an object outside the centre square, and 20 plain eligible images.

    Returns (dataset, images {file_name: PIL image}, expected eligible image ids).
    """
    images, annotations, pixels = [], [], {}

    def add_image(image_id, width, height):
        name = f"{image_id:012d}.jpg"
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
        rng = random.Random(image_id)
        pixels[name] = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in "rgb"))

    add_image(1, 100, 80)  # 8000 px: a 20x20 object is exactly 5 %, a crowd object excluded
    annotations.append(annotation(11, 1, rect(40, 30, 20, 20), 80, 100))
    annotations.append(annotation(12, 1, rect(25, 10, 50, 50), 80, 100, iscrowd=1))
    add_image(2, 100, 80)  # only a crowd object: not eligible
    crowd = np.zeros((80, 100), bool)
    crowd[20:60, 30:70] = True
    annotations.append(annotation(21, 2, uncompressed_rle(crowd), 80, 100, iscrowd=1))
    add_image(3, 80, 80)  # too small (2 %) and too large (70 %): not eligible
    annotations.append(annotation(31, 3, rect(10, 10, 10, 12), 80, 80, category=2))
    annotations.append(annotation(32, 3, rect(5, 5, 67, 67), 80, 80, category=3))
    add_image(4, 80, 80)  # two eligible objects: a compressed RLE and a triangle
    blob = np.zeros((80, 80), bool)
    blob[20:60, 20:60] = True  # 25 %
    annotations.append(annotation(41, 4, compressed_rle(blob), 80, 80, category=2))
    annotations.append(annotation(42, 4, [[10, 10, 50, 10, 10, 50]], 80, 80, category=3))
    add_image(5, 120, 80)  # 20 % object left of the centre square [20, 100): crop rule
    annotations.append(annotation(51, 5, rect(0, 20, 16, 48), 80, 120))
    for image_id in range(100, 120):  # plain eligible images
        add_image(image_id, 64, 48)
        side = 14 + image_id % 10  # 6-17 % of 64 x 48
        annotations.append(
            annotation(10 * image_id, image_id, rect(20, 10, side, side), 48, 64, image_id % 3 + 1)
        )
    eligible = {1, 4, *range(100, 120)}
    dataset = {"images": images, "annotations": annotations, "categories": CATEGORIES}
    return dataset, pixels, eligible


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    """(annotations path, images folder, images zip, dataset, eligible ids)."""
    root = tmp_path_factory.mktemp("coco")
    dataset, pixels, eligible = build_coco()
    path = root / "instances_train2017.json"
    path.write_text(json.dumps(dataset))
    folder = root / "train2017"
    folder.mkdir()
    with zipfile.ZipFile(root / "train2017.zip", "w") as archive:
        for name, image in pixels.items():
            image.save(folder / name, format="JPEG", quality=95)
            archive.write(folder / name, f"train2017/{name}")
    return path, folder, root / "train2017.zip", dataset, eligible


# ---------------------------------------------------------------------------- selection


def test_selection_rules(coco):
    path, _, _, dataset, eligible = coco
    pairs = select_pairs(path, len(eligible), area_bounds=(0.05, 0.5), seed=3)
    assert [p["id"] for p in pairs] == [f"pair-{i:05d}" for i in range(len(eligible))]
    assert {p["coco_image_id"] for p in pairs} == eligible  # one object per image, all of them
    anns = {a["id"]: a for a in dataset["annotations"]}
    names = {c["id"]: c["name"] for c in CATEGORIES}
    for pair in pairs:
        ann = anns[pair["coco_annotation_id"]]
        assert ann["image_id"] == pair["coco_image_id"] and not ann["iscrowd"]
        assert 0.05 <= pair["area_fraction"] <= 0.5
        assert pair["category"] == names[ann["category_id"]]
        assert pair["bbox"] == ann["bbox"]
        assert pair["file_name"] == f"{pair['coco_image_id']:012d}.jpg"
        assert set(PAIR_KEYS) <= set(pair)
    first = next(p for p in pairs if p["coco_image_id"] == 1)
    assert first["coco_annotation_id"] == 11 and first["area_fraction"] == pytest.approx(0.05)

    # The crop rule: image 5's object lies outside its centre square.
    assert 5 not in {p["coco_image_id"] for p in pairs}
    loose = select_pairs(path, len(eligible) + 1, area_bounds=(0.05, 0.5), inside_crop=False)
    assert {p["coco_image_id"] for p in loose} == eligible | {5}
    # Narrower bounds leave out image 4's 25 % object and the 20 x 20 one of image 1.
    narrow = select_pairs(path, 5, area_bounds=(0.06, 0.2), seed=0)
    assert all(0.06 <= p["area_fraction"] <= 0.2 for p in narrow)
    assert all(p["coco_annotation_id"] not in (11, 41) for p in narrow)


def ids(pairs):
    return [(p["coco_image_id"], p["coco_annotation_id"]) for p in pairs]


def test_selection_is_seeded_and_independent_of_file_order(coco, tmp_path):
    path, _, _, dataset, _ = coco
    a = select_pairs(path, 10, seed=7)
    assert ids(a) == ids(select_pairs(path, 10, seed=7))
    assert ids(a) != ids(select_pairs(path, 10, seed=8))
    assert ids(select_pairs(path, 4, seed=7)) == ids(a)[:4]  # a smaller set is a prefix

    shuffled = dict(dataset)
    for key in ("images", "annotations", "categories"):
        shuffled[key] = random.Random(1).sample(dataset[key], len(dataset[key]))
    other = tmp_path / "shuffled.json"
    other.write_text(json.dumps(shuffled))
    assert ids(select_pairs(other, 10, seed=7)) == ids(a)

    # The object of an image is a seeded choice among its eligible objects.
    chosen = {
        select_pairs(path, 1, seed=s, image_ids=[4])[0]["coco_annotation_id"] for s in range(12)
    }
    assert chosen == {41, 42}


def test_selection_image_ids_and_zip(coco, tmp_path):
    path, _, _, dataset, _ = coco
    pairs = select_pairs(path, 2, seed=0, image_ids=[1, 2, 3, 100])
    assert {p["coco_image_id"] for p in pairs} == {1, 100}
    with pytest.raises(DataError, match=r"not in .*instances_train2017\.json"):
        select_pairs(path, 1, image_ids=[1, 999])
    archive = tmp_path / "annotations_trainval2017.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("annotations/instances_train2017.json", json.dumps(dataset))
    assert select_pairs(archive, 6, seed=2) == select_pairs(path, 6, seed=2)


def test_too_few_eligible_images(coco):
    path, _, _, _, eligible = coco
    with pytest.raises(DataError) as err:
        select_pairs(path, len(eligible) + 1)
    message = str(err.value)
    assert f"only {len(eligible)} images" in message
    assert "inpainting.pairs" in message and "inpainting.area_bounds" in message
    with pytest.raises(ConfigError, match="inpainting.area_bounds"):
        select_pairs(path, 1, area_bounds=(0.5, 0.1))
    with pytest.raises(ConfigError, match="inpainting.pairs"):
        select_pairs(path, 0)


def test_missing_corrupt_and_foreign_annotation_files(coco, tmp_path):
    missing = tmp_path / "nowhere" / "instances_train2017.json"
    with pytest.raises(DataError) as err:
        select_pairs(missing, 1)
    message = str(err.value)
    assert str(missing) in message and "inpainting.annotations" in message
    assert "annotations_trainval2017.zip" in message and "cocodataset.org" in message
    assert "download rule" in message

    text = coco[0].read_text()
    truncated = tmp_path / "truncated.json"
    truncated.write_text(text[: len(text) // 2])
    with pytest.raises(
        DataError, match=r"truncated\.json is not valid JSON.*delete it and download"
    ):
        select_pairs(truncated, 1)

    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"images": []}))
    with pytest.raises(DataError, match="not a COCO instances annotation file"):
        select_pairs(foreign, 1)

    wrong_zip = tmp_path / "captions.zip"
    with zipfile.ZipFile(wrong_zip, "w") as z:
        z.writestr("annotations/captions_train2017.json", "{}")
    with pytest.raises(DataError, match="without annotations/instances_train2017.json"):
        select_pairs(wrong_zip, 1)


# ---------------------------------------------------------------------------- masks


def test_mask_decoding_matches_the_segmentation():
    height, width = 90, 120
    # A triangle: shoelace area 0.5 * 80 * 60 = 2400; rasterising moves about half a pixel
    # along the boundary (perimeter ~ 240 px).
    triangle = [[20.0, 10.0, 100.0, 10.0, 20.0, 70.0]]
    mask = decode_segmentation(triangle, height, width)
    assert mask.shape == (height, width) and mask.dtype == bool
    assert abs(int(mask.sum()) - 2400) <= 0.5 * 240
    assert mask[20, 30] and not mask[65, 90] and not mask[5, 50]
    # The rasteriser's area is the annotation's area.
    assert mask.sum() == annotation(1, 1, triangle, height, width)["area"]
    # Two rings are one object.
    two = decode_segmentation(rect(0, 0, 10, 10) + rect(50, 50, 10, 10), height, width)
    assert two[5, 5] and two[55, 55] and not two[30, 30]

    # RLE, compressed (string counts, as in the JSON) and uncompressed, decode exactly.
    blob = np.zeros((height, width), bool)
    blob[30:50, 10:90] = True
    blob[40:80, 60:70] = True
    assert np.array_equal(decode_segmentation(compressed_rle(blob), height, width), blob)
    assert np.array_equal(decode_segmentation(uncompressed_rle(blob), height, width), blob)
    with pytest.raises(DataError, match="cannot decode"):
        decode_segmentation("not a segmentation", height, width)


def test_dilation_grows_by_a_disk():
    point = np.zeros((21, 21), bool)
    point[10, 10] = True
    grown = dilate_mask(point, 3)
    # Lattice points within distance 3 of the centre: 29.
    assert grown.sum() == 29 and grown[10, 13] and grown[12, 12] and not grown[13, 12]
    square = np.zeros((30, 30), bool)
    square[10:20, 10:20] = True
    # 10 x 10 plus four 10 x 2 sides plus four corners with one point within distance 2.
    assert dilate_mask(square, 2).sum() == 100 + 80 + 4
    assert np.array_equal(dilate_mask(square, 0), square)
    assert not dilate_mask(np.zeros((5, 5), bool), 3).any()
    with pytest.raises(ConfigError, match="inpainting.dilate"):
        dilate_mask(square, -1)


def scene(width=150, height=100, box=(70, 20, 110, 60)):
    """A grey image with a red ellipse, and the ellipse's exact mask."""
    image = Image.new("RGB", (width, height), (128, 128, 128))
    ImageDraw.Draw(image).ellipse(box, fill=(255, 0, 0))
    pixels = np.asarray(image)
    mask = (pixels[..., 0] == 255) & (pixels[..., 1] == 0)
    return image, mask


def test_make_pair_resizes_image_and_mask_the_same_way():
    image, mask = scene()
    out_image, out_mask = make_pair(image, mask, 32, 0)
    assert out_image.mode == "RGB" and out_image.size == (32, 32)
    assert out_mask.shape == (32, 32) and out_mask.dtype == bool
    # The 150 x 100 image is cropped to its centre 100 x 100 (columns 25..125), then scaled 0.32.
    ys, xs = np.nonzero(mask)
    expected = ((xs.mean() + 0.5 - 25) * 0.32 - 0.5, (ys.mean() + 0.5) * 0.32 - 0.5)
    oys, oxs = np.nonzero(out_mask)
    assert oxs.mean() == pytest.approx(expected[0], abs=0.5)
    assert oys.mean() == pytest.approx(expected[1], abs=0.5)
    # The resized mask lies on the resized object: its pixels are red, the others are not.
    pixels = np.asarray(out_image).astype(int)
    redness = pixels[..., 0] - pixels[..., 1]
    assert (redness[out_mask] > 100).mean() > 0.9
    assert (redness[~out_mask] > 100).mean() < 0.05
    assert out_mask.sum() == pytest.approx(mask.sum() * 0.32**2, rel=0.1)

    # Dilation happens before the resize, at the original resolution: 5 px there is 1.6 px here.
    _, grown = make_pair(image, mask, 32, 5)
    assert grown.sum() > out_mask.sum() and (grown | out_mask).sum() == grown.sum()
    with pytest.raises(DataError, match="does not match"):
        make_pair(image, mask[:, :-1], 32, 0)


def test_empty_mask_after_resize_names_the_pair():
    image, _ = scene(400, 400)
    dot = np.zeros((400, 400), bool)
    dot[200, 200] = True
    with pytest.raises(DataError, match=r"pair-00042.*covers no pixel.*inpainting\.area_bounds"):
        make_pair(image, dot, 16, 0, name="pair-00042")
    # Outside the centre square, nothing is left either.
    wide, _ = scene(300, 100)
    left = np.zeros((100, 300), bool)
    left[40:60, 10:50] = True
    with pytest.raises(DataError, match="pair-00001"):
        make_pair(wide, left, 16, 0, name="pair-00001")


# ---------------------------------------------------------------------------- pair sets


@pytest.mark.parametrize("source", ["folder", "zip"])
def test_pair_set_round_trip(coco, tmp_path, source):
    path, folder, archive, _, _ = coco
    images_source = folder if source == "folder" else archive
    pairs = select_pairs(path, 5, seed=1)
    jsonl = write_pair_set(tmp_path / "pairs", pairs, images_source, resolution=32, dilate=2)
    assert jsonl == tmp_path / "pairs" / "pairs.jsonl"
    rows = read_pair_set(tmp_path / "pairs")
    assert [r["id"] for r in rows] == [p["id"] for p in pairs]
    for row, pair in zip(rows, pairs, strict=True):
        assert {k: row[k] for k in PAIR_KEYS} == {k: pair[k] for k in PAIR_KEYS}
        assert "segmentation" not in row
        assert row["resolution"] == 32 and row["dilate"] == 2
        image, mask = load_pair(tmp_path / "pairs", row["id"], resolution=32)
        assert image.dtype == np.uint8 and image.shape == (32, 32, 3)
        assert mask.dtype == bool and mask.shape == (32, 32)
        assert row["mask_fraction"] == pytest.approx(mask.mean())
        # The stored mask is make_pair's mask of the decoded object.
        original = Image.open(folder / pair["file_name"]).convert("RGB")
        decoded = decode_segmentation(pair["segmentation"], pair["height"], pair["width"])
        assert np.array_equal(make_pair(original, decoded, 32, 2)[1], mask)
        mask_file = Image.open(tmp_path / "pairs" / f"{row['id']}.mask.png")
        assert mask_file.mode == "L" and set(np.unique(np.asarray(mask_file))) <= {0, 255}


def test_pair_set_errors(coco, tmp_path):
    path, folder, _, _, _ = coco
    with pytest.raises(DataError, match=r"pairs\.jsonl does not exist"):
        read_pair_set(tmp_path / "none")
    pairs = select_pairs(path, 3, seed=0)
    out = tmp_path / "pairs"
    write_pair_set(out, pairs, folder, resolution=16)
    with pytest.raises(DataError, match=r"pair-00099\.png does not exist"):
        load_pair(out, "pair-00099")
    with pytest.raises(DataError, match="the model wants 32"):
        load_pair(out, "pair-00000", resolution=32)
    Image.fromarray(np.full((16, 16), 7, np.uint8)).save(out / "pair-00001.mask.png")
    with pytest.raises(DataError, match="other than 0 and 255"):
        load_pair(out, "pair-00001")
    Image.new("L", (16, 16)).save(out / "pair-00001.mask.png")
    with pytest.raises(DataError, match="is empty"):
        load_pair(out, "pair-00001")
    Image.new("RGB", (8, 8)).save(out / "pair-00002.png")
    with pytest.raises(DataError, match="same square size"):
        load_pair(out, "pair-00002")
    (out / "pair-00002.mask.png").unlink()
    with pytest.raises(DataError, match=r"line 3: .*pair-00002\.mask\.png is missing"):
        read_pair_set(out)
    index = out / "pairs.jsonl"
    index.write_text(index.read_text().replace("}", "", 1))  # line 1 loses a brace
    with pytest.raises(DataError, match=r"pairs\.jsonl, line 1: not valid JSON .*rebuild the pair"):
        read_pair_set(out)
    # A rewrite that fails leaves no index describing half-rewritten files.
    write_pair_set(out, pairs, folder, resolution=16)
    with pytest.raises(DataError, match=r"image 000000000001\.jpg is not in"):
        write_pair_set(out, [dict(pairs[0], file_name="000000000001.jpg")], out, 16)
    with pytest.raises(DataError, match=r"pairs\.jsonl does not exist"):
        read_pair_set(out)


# ---------------------------------------------------------------------------- demo


def demo_images(tmp_path, n=6):
    paths = make_demo_images(tmp_path / "demo", n, seed=0, size=64)
    return [(p.name, Image.open(p).convert("RGB")) for p in paths]


def test_demo_pairs_are_seeded(tmp_path):
    images = demo_images(tmp_path)
    a = demo_pairs(images, 4, 32, seed=0)
    b = demo_pairs(list(reversed(images)), 4, 32, seed=0)
    assert [r for r, _, _ in a] == [r for r, _, _ in b]
    for (_, ia, ma), (_, ib, mb) in zip(a, b, strict=True):
        assert np.array_equal(np.asarray(ia), np.asarray(ib)) and np.array_equal(ma, mb)
    other = demo_pairs(images, 4, 32, seed=1)
    assert [(r["file_name"], r["bbox"]) for r, _, _ in other] != [
        (r["file_name"], r["bbox"]) for r, _, _ in a
    ]
    for row, image, mask in a:
        assert row["coco_image_id"] is None and row["category"]
        assert 0.08 <= row["area_fraction"] <= 0.32  # 10-30 %, give or take the pixel grid
        assert image.size == (32, 32) and mask.shape == (32, 32)
        assert mask.mean() == pytest.approx(row["area_fraction"], abs=0.05)
    assert len({r["file_name"] for r, _, _ in a}) == 4

    write_pairs(tmp_path / "set", a)
    rows = read_pair_set(tmp_path / "set")
    assert [r["id"] for r in rows] == ["pair-00000", "pair-00001", "pair-00002", "pair-00003"]
    image, mask = load_pair(tmp_path / "set", "pair-00002", resolution=32)
    assert np.array_equal(mask, a[2][2]) and np.array_equal(image, np.asarray(a[2][1]))
    with pytest.raises(ConfigError, match="inpainting.pairs"):
        demo_pairs(images, 7, 32, seed=0)


# ---------------------------------------------------------------------------- prompts


def test_inpainting_prompts(coco, tmp_path):
    pairs = select_pairs(coco[0], 4, seed=0)
    removal = inpainting_prompts(pairs, "removal")
    completion = inpainting_prompts(pairs, "completion")
    assert [r["id"] for r in removal] == [f"inpaint-removal-{i:05d}" for i in range(4)]
    assert {r["text"] for r in removal} == {"clear background"}
    assert [r["text"] for r in completion] == [p["category"] for p in pairs]
    for rows, task in ((removal, "removal"), (completion, "completion")):
        assert all(r["set"] == f"inpaint-{task}" for r in rows)
        assert [r["meta"] for r in rows] == [
            {"pair_id": p["id"], "task": task, "category": p["category"]} for p in pairs
        ]
        # Valid prompt rows: they round-trip through the prompt files.
        assert read_prompts(write_prompts(rows, tmp_path / f"{task}.jsonl")) == rows
    custom = inpainting_prompts(pairs, "removal", "empty room", set_name="rm")
    assert custom[0]["id"] == "rm-00000" and custom[0]["text"] == "empty room"
    with pytest.raises(ConfigError, match="removal"):
        inpainting_prompts(pairs, "outpainting")
