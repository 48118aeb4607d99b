"""The `clip` encoder: images and captions -> L2-normalised CLIP features with open_clip.

Never downloads anything: the weights come from a local file (`checkpoint`, a .safetensors file
or a torch state dict read with `weights_only=True`) or from open_clip's `local-dir:DIR` model
name (a folder with `open_clip_config.json` and the weights). Models whose text tower or
tokenizer lives on the Hugging Face hub are refused unless they come from a local folder.

Features are computed in batches (a progress bar on stderr, on the GPU when there is one) and
cached on disk under `$HASHBENCH_CACHE/clip-features/`, keyed by the model name, the SHA-256 of
the weights and a fingerprint of the items (the bytes of every image file, every caption).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import hashbench
from hashbench import EncoderSpec
from hashbench.data.array_cache import default_cache_dir
from hashbench.errors import InputError

LOCAL_DIR = "local-dir:"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
CACHE_VERSION = 1


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _resolve_device(device: Any):
    import torch

    if isinstance(device, torch.device):
        return device
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class ClipEncoder:
    """open_clip model + preprocessing + tokenizer, with an on-disk feature cache."""

    def __init__(
        self,
        model: str = "ViT-B-32",
        checkpoint: str | os.PathLike | None = None,
        device: Any = "auto",
        batch_size: int = 64,
        cache_dir: Path | None = None,
        progress: bool = True,
    ) -> None:
        self.model_name = model
        self.batch_size = int(batch_size)
        self.progress = progress
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir() / "clip-features"
        self.device = _resolve_device(device)
        self.config = self._model_config()
        self.weights = self._weights_files(checkpoint)
        digest = hashlib.sha256()
        for path in self.weights:
            digest.update(file_sha256(path).encode())
        self.checkpoint_hash = digest.hexdigest()
        self.identity = f"clip:{model}:{self.checkpoint_hash[:16]}"
        self._loaded = None

    def __getstate__(self) -> dict:
        """Pickled (e.g. for worker processes) without the loaded model; it reloads lazily."""
        state = dict(self.__dict__)
        state["_loaded"] = None
        return state

    # --- resolving the model without any network access -----------------------------------

    def _model_config(self) -> dict:
        import open_clip

        if self.model_name.startswith(LOCAL_DIR):
            folder = Path(self.model_name[len(LOCAL_DIR) :]).expanduser()
            config_path = folder / "open_clip_config.json"
            if not config_path.is_file():
                raise InputError(f"--clip-model {self.model_name}: {config_path} does not exist")
            try:
                config = json.loads(config_path.read_text()).get("model_cfg")
            except (OSError, ValueError) as exc:
                raise InputError(
                    f"{config_path}: not a readable open_clip config ({exc})"
                ) from None
            if not isinstance(config, dict):
                raise InputError(f"{config_path}: key 'model_cfg' is missing")
            return config
        if self.model_name.startswith("hf-hub:"):
            raise InputError(
                f"--clip-model {self.model_name}: hashbench never downloads; save the model to a "
                "folder and pass --clip-model local-dir:FOLDER"
            )
        config = open_clip.get_model_config(self.model_name)
        if config is None:
            known = ", ".join(sorted(open_clip.list_models())[:12])
            raise InputError(
                f"--clip-model {self.model_name}: unknown open_clip model (e.g. {known}, ...; "
                "`python -c 'import open_clip; print(open_clip.list_models())'` lists all)"
            )
        text_cfg = config.get("text_cfg", {})
        if text_cfg.get("hf_model_name") or text_cfg.get("hf_tokenizer_name"):
            raise InputError(
                f"--clip-model {self.model_name}: its text tower or tokenizer comes from the "
                "Hugging Face hub, which needs a download; use --clip-model local-dir:FOLDER "
                "with a saved copy"
            )
        return config

    def _weights_files(self, checkpoint: str | os.PathLike | None) -> list[Path]:
        if self.model_name.startswith(LOCAL_DIR):
            if checkpoint:
                raise InputError(
                    "--clip-checkpoint is not used with --clip-model local-dir:FOLDER (the "
                    "weights are read from the folder); pass one or the other"
                )
            folder = Path(self.model_name[len(LOCAL_DIR) :]).expanduser()
            found = sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES)
            if not found:
                raise InputError(
                    f"--clip-model {self.model_name}: no weights (*.safetensors, *.bin, *.pth) in "
                    f"{folder}"
                )
            return found
        if not checkpoint:
            raise InputError(
                f"the clip encoder needs local weights for {self.model_name}: pass "
                "--clip-checkpoint FILE (.safetensors, or a torch state dict) or --clip-model "
                "local-dir:FOLDER; hashbench never downloads weights"
            )
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise InputError(
                f"--clip-checkpoint {checkpoint}: no such file (a pretrained tag such as "
                "'openai' would need a download; hashbench only reads local files)"
            )
        return [path]

    def _load(self):
        if self._loaded is not None:
            return self._loaded
        import open_clip

        try:
            if self.model_name.startswith(LOCAL_DIR):
                model, _, preprocess = open_clip.create_model_and_transforms(
                    self.model_name, weights_only=True
                )
            else:
                model, _, preprocess = open_clip.create_model_and_transforms(
                    self.model_name, pretrained=None
                )
                open_clip.load_checkpoint(model, str(self.weights[0]), weights_only=True)
        except (RuntimeError, KeyError, ValueError, OSError) as exc:
            raise InputError(
                f"cannot load CLIP weights {', '.join(map(str, self.weights))} into "
                f"{self.model_name}: {type(exc).__name__}: {str(exc)[:300]}"
            ) from None
        except Exception as exc:  # e.g. torch's UnpicklingError for non-weights pickles
            if "weights_only" in str(exc) or "Unpickl" in type(exc).__name__:
                raise InputError(
                    f"{self.weights[0]}: refused: it is not a plain state dict (loaded with "
                    "weights_only=True, which blocks code in the file)"
                ) from None
            raise
        tokenizer = open_clip.get_tokenizer(self.model_name)
        model.eval().to(self.device)
        self._loaded = (model, preprocess, tokenizer)
        return self._loaded

    # --- encoding -------------------------------------------------------------------------

    def _fingerprint(self, modality: str, items: Sequence[Any]) -> str:
        digest = hashlib.blake2b(digest_size=16)
        digest.update(f"{modality}|{len(items)}|".encode())
        for item in items:
            if modality == "text":
                data = str(item).encode("utf-8")
            elif isinstance(item, (str, os.PathLike)):
                try:
                    data = Path(item).read_bytes()
                except OSError as exc:
                    raise InputError(f"image {item}: cannot read ({exc.strerror or exc})") from None
            else:  # a PIL image
                data = item.tobytes()
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
        return digest.hexdigest()

    def cache_path(self, modality: str, items: Sequence[Any]) -> Path:
        key = hashlib.sha256(
            f"v{CACHE_VERSION}|{self.model_name}|{self.checkpoint_hash}|"
            f"{self._fingerprint(modality, items)}".encode()
        ).hexdigest()[:32]
        return self.cache_dir / f"{modality}-{key}.npy"

    def encode(self, modality: str, items: Sequence[Any]) -> np.ndarray:
        if modality not in ("image", "text"):
            raise InputError(f"the clip encoder encodes image or text, not '{modality}'")
        items = list(items)
        path = self.cache_path(modality, items)
        if path.is_file():
            try:
                cached = np.load(path)
                if cached.shape[0] == len(items):
                    return cached
            except (OSError, ValueError):
                pass  # damaged: recompute
        features = self._compute(modality, items)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=".npy", dir=self.cache_dir)
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, features)
            os.replace(tmp, path)
        except OSError:
            pass  # an unwritable cache only costs time
        return features

    def _batch_tensor(self, modality: str, batch: list[Any]):
        import torch

        model, preprocess, tokenizer = self._load()
        if modality == "text":
            return tokenizer(batch)
        from PIL import Image, UnidentifiedImageError

        tensors = []
        for item in batch:
            if isinstance(item, (str, os.PathLike)):
                try:
                    with Image.open(item) as img:
                        image = img.convert("RGB")
                except (OSError, UnidentifiedImageError) as exc:
                    raise InputError(f"image {item}: cannot be decoded ({exc})") from None
            else:
                image = item.convert("RGB")
            tensors.append(preprocess(image))
        return torch.stack(tensors)

    def _compute(self, modality: str, items: list[Any]) -> np.ndarray:
        import torch
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        model, _, _ = self._load()
        encode = model.encode_image if modality == "image" else model.encode_text
        out = []
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(
            *columns, console=Console(stderr=True), transient=True, disable=not self.progress
        ) as bar:
            task = bar.add_task(f"CLIP {self.model_name}: {modality}", total=len(items))
            for start in range(0, len(items), self.batch_size):
                batch = items[start : start + self.batch_size]
                tensor = self._batch_tensor(modality, batch).to(self.device)
                with torch.no_grad():
                    feats = encode(tensor, normalize=True)
                out.append(feats.float().cpu().numpy())
                bar.advance(task, len(batch))
        dim = int(self.config.get("embed_dim", 0))
        return np.concatenate(out) if out else np.zeros((0, dim), np.float32)


@hashbench.hookimpl
def hashbench_register_encoders() -> list[EncoderSpec]:
    return [
        EncoderSpec(
            name="clip",
            summary=(
                "open_clip image/text encoder from local weights (--clip-model, "
                "--clip-checkpoint or local-dir:); never downloads; features cached on disk"
            ),
            modalities=("image", "text"),
            create=ClipEncoder,
        )
    ]
