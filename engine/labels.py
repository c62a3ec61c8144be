"""The true class of each image, when the images carry one.

Two sources, both keyed by image file name (the scorer's key):

- ObjectNet's own layout, ``objectnet-1.0/images/<folder>/<file>.png``: the folder an image
  sits in names its class. Folder names are the keys of the release's
  ``folder_to_objectnet_label.json``, from which the class table in ``data/objectnet.json``
  is derived, so the table's ``folder`` field turns a folder into an ObjectNet id;
- an answers JSON (image file name -> ObjectNet id), the scorer's own input; a file named
  ``answers.json`` in the images folder is picked up by the engine's ``--score`` run.

Needs only the standard library (``engine.validate`` uses it without torch).
"""

import os
from typing import Dict, Optional

from .config import IMAGE_SUFFIXES
from .mapping import objectnet_folders

ANSWERS_BESIDE_IMAGES = "answers.json"
"""An answers file with this name at the top of the images folder labels its images."""


class LabelsError(ValueError):
    """The labels cannot be read; the message is one line naming the file or folder."""


def folder_ids() -> Dict[str, int]:
    """ObjectNet folder name (e.g. 'air_freshener') -> ObjectNet id."""
    return {folder: index for index, folder in enumerate(objectnet_folders())}


def _image_files(root: str):
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES):
                yield folder, name


def answers_from_folders(images_dir: "os.PathLike[str] | str") -> Dict[str, int]:
    """Image file name -> ObjectNet id, from the ObjectNet folder each image sits in.

    Raises LabelsError naming the first folder that is not an ObjectNet folder, an image
    outside any class folder, a file name seen in two folders, or an empty tree.
    """
    root = os.fspath(images_dir)
    if not os.path.isdir(root):
        raise LabelsError("images folder %s does not exist or is not a folder" % root)
    ids = folder_ids()
    answers: Dict[str, int] = {}
    where: Dict[str, str] = {}
    for folder, name in _image_files(root):
        if os.path.samefile(folder, root):
            raise LabelsError(
                "%s is not inside a class folder: ObjectNet's layout is "
                "images/<folder>/<file>.png; pass the folder that holds the class folders"
                % os.path.join(folder, name))
        label = os.path.basename(folder)
        if label not in ids:
            raise LabelsError(
                "folder %s is not an ObjectNet class folder (the folder names are the keys of "
                "folder_to_objectnet_label.json, e.g. 'air_freshener'): pass ObjectNet's "
                "images folder, or score with --answers" % folder)
        if name in answers:
            raise LabelsError(
                "image %s is in both %s and %s: the scorer keys images by file name, so "
                "rename or remove one" % (name, where[name], folder))
        answers[name] = ids[label]
        where[name] = folder
    if not answers:
        raise LabelsError("no images under %s (looked for %s in its class folders)"
                          % (root, "/".join(s.lstrip(".") for s in IMAGE_SUFFIXES)))
    return answers


def find_labels(images_dir: "os.PathLike[str] | str") -> Optional[Dict[str, int]]:
    """The labels the images carry, or None when they carry none.

    ``answers.json`` at the top of the folder wins; otherwise every image's folder must be an
    ObjectNet folder. A tree whose images sit in no ObjectNet folder at all carries no labels;
    one that mixes ObjectNet and other folders is an error (LabelsError), because a score over
    a silent subset would mislead.
    """
    root = os.fspath(images_dir)
    beside = os.path.join(root, ANSWERS_BESIDE_IMAGES)
    if os.path.isfile(beside):
        from .validate import load_answers

        try:
            return load_answers(beside)
        except ValueError as error:
            raise LabelsError(str(error)) from None
    ids = folder_ids()
    if not any(os.path.basename(folder) in ids for folder, _ in _image_files(root)):
        return None
    return answers_from_folders(root)
