"""The studio's page: Gradio components wired to a Studio (app.py). Every element a test or a user's script may look
for has an elem_id."""


import inspect
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from neural_style import images
from neural_style.watch.access import Access, is_loopback, new_token
from neural_style.config import LOOKS, METHODS, NAMED_STARTS, PRESETS, STYLE_LOSSES
from neural_style.errors import NeuralStyleError
from neural_style.samples import SAMPLES_FOLDER, sample_images
from neural_style.studio.app import FORM_PRESETS, STRENGTH_RANGE, Studio, StudioForm
from neural_style.studio.guard import StudioGuard

MAX_QUEUE = 16  # requests waiting behind the run under way


def _import_gradio() -> Any:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
    if "gradio" not in sys.modules and not os.environ.get("GRADIO_TEMP_DIR"):
        # Gradio keeps uploads and pictures in /tmp/gradio, shared and readable by every user of the machine: a
        # folder of this user's own (0700) instead, read by Gradio when it is imported.
        os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="neural_style_studio_")
    try:
        import gradio
    except ImportError:
        raise NeuralStyleError("the studio needs Gradio: pip install 'neural-style-keras[studio]' "
                               "(or pip install -e '.[studio]' in a checkout)") from None
    return gradio


def build_page(studio: Studio) -> Any:
    """The Blocks of the studio's page."""
    gr = _import_gradio()
    import pandas

    samples = list(sample_images())

    def frame(rows: dict) -> Any:
        # None, not an empty frame, before the first point: a plot first sent no rows draws no line after (Gradio 6).
        return pandas.DataFrame(rows) if rows["iteration"] else None

    with gr.Blocks(title="neural-style studio", analytics_enabled=False) as page:
        gr.Markdown("## neural-style studio\nA photo, one or more paintings, **Paint**. Every finished picture is kept "
                    f"in the gallery below (`{studio.gallery.folder}`) with its settings.")
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                content_upload = gr.File(label="Content photo", file_types=["image"], elem_id="content-upload")
                content_sample = gr.Dropdown(samples, value=samples[0] if samples else None, label="or a sample photo (an upload replaces it)",
                                             elem_id="content-sample")
                style_uploads = gr.File(label="Style paintings", file_count="multiple", file_types=["image"],
                                        elem_id="style-uploads")
                style_samples = gr.Dropdown(samples, value=[s for s in samples if "swirl" in s][:1], multiselect=True,
                                            label="or sample paintings (an upload replaces them)", elem_id="style-samples")
                chosen = gr.Gallery(label="Chosen", columns=4, height=130, elem_id="chosen", allow_preview=False)
                check = gr.Markdown(elem_id="check")
                blend = gr.Textbox(label="Blend weights (one per painting)", placeholder="equal", elem_id="blend")
                masks = gr.File(label="Masks: one per painting, over the photo (white: that painting)",
                                file_count="multiple", file_types=["image"], elem_id="masks")
            with gr.Column(scale=1, min_width=280):
                matching = [name for name, values in FORM_PRESETS.items()
                            if (values["size"], values["iterations"]) == (studio.size, studio.iterations)]
                preset_choice = gr.Radio(list(FORM_PRESETS), value=matching[0] if matching else None, label="Preset",
                                         elem_id="preset")
                size = gr.Slider(64, 2048, value=studio.size, step=16, label="Size (longest side, px)",
                                 elem_id="size")
                iterations = gr.Slider(10, 1000, value=studio.iterations, step=10, label="Iterations",
                                       elem_id="iterations")
                look = gr.Radio(list(LOOKS), value="balanced", label="Look", elem_id="look")
                strength = gr.Slider(*STRENGTH_RANGE, value=StudioForm.strength, step=0.1, elem_id="strength",
                                     label="Style strength: 1 the default look, the same on every painting")
                style_loss = gr.Dropdown(list(STYLE_LOSSES), value=StudioForm.style_loss, label="Style loss", elem_id="style-loss")
                with gr.Row():
                    original_colors = gr.Checkbox(value=StudioForm.original_colors, label="Keep the photo's colours",
                                                  elem_id="original-colors")
                    color_match = gr.Checkbox(value=StudioForm.color_match, label="Paintings in the photo's colours",
                                              elem_id="color-match")
                method = gr.Radio(list(METHODS), value=StudioForm.method, elem_id="method",
                                  label="Method: optimise (Gatys), or AdaIN in one pass (about a second)")
                init = gr.Dropdown(list(NAMED_STARTS), value=StudioForm.init, label="Start from", elem_id="init")
                seed = gr.Number(value=studio.seed if studio.seed is not None else 0, precision=0, label="Seed",
                                 elem_id="seed")
                with gr.Row():
                    paint = gr.Button("Paint", variant="primary", elem_id="paint")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop")
                    sheet = gr.Button("Contact sheet", elem_id="sheet")
            with gr.Column(scale=2, min_width=400):
                picture = gr.Image(label="Picture", interactive=False, format="png", elem_id="picture", height=420)
                status = gr.Markdown("ready", elem_id="status")
                curve = gr.LinePlot(None, x="iteration", y="log10_loss", color="term", y_title="log10 of the loss",
                                    label="Loss", show_label=False, elem_id="curve", height=260)
                command = gr.Code(label="The same run from the command line", language="shell", interactive=False,
                                  elem_id="command")
        gallery = gr.Gallery(value=_gallery_items(studio), label="Gallery (newest first)", columns=6, height=300,
                             object_fit="contain", preview=False,
                             elem_id="gallery")
        download = gr.File(label="The selected picture and its settings", file_count="multiple", elem_id="download",
                           interactive=False)

        form_inputs = [content_upload, content_sample, style_uploads, style_samples, blend, masks, size, iterations,
                       strength, style_loss, original_colors, color_match, method, init, seed]

        def form_of(*values: Any) -> StudioForm:
            return StudioForm(*values)

        def chose(*values: Any) -> Tuple[List[Tuple[str, str]], str]:
            return chosen_images(form_of(*values))

        for component in (content_upload, content_sample, style_uploads, style_samples, masks):
            component.change(chose, form_inputs, [chosen, check], queue=False)
        page.load(chose, form_inputs, [chosen, check], queue=False)
        preset_choice.change(lambda name: (FORM_PRESETS[name]["size"], FORM_PRESETS[name]["iterations"]), preset_choice,
                             [size, iterations], queue=False)
        look.change(lambda name: PRESETS[name]["style_strength"], look, strength, queue=False)

        def run(*values: Any) -> Any:
            for image, line, rows, command_text, entry in studio.paint(form_of(*values)):
                yield (image, line, frame(rows), command_text,
                       _gallery_items(studio) if entry else gr.update(),
                       [entry.picture, entry.settings] if entry else gr.update())

        paint.click(run, form_inputs, [picture, status, curve, command, gallery, download], concurrency_limit=1,
                    concurrency_id="studio-run")

        def run_sheet(*values: Any) -> Any:
            for image, line, entry in studio.sheet(form_of(*values)):
                yield (image, line, _gallery_items(studio) if entry else gr.update(),
                       [entry.picture, entry.settings] if entry else gr.update())

        sheet.click(run_sheet, form_inputs, [picture, status, gallery, download], concurrency_limit=1,
                    concurrency_id="studio-run")
        stop.click(studio.stop, None, status, queue=False)

        def selected(event: gr.SelectData) -> Any:
            found = selected_entry(studio, event.index)
            return found if found is not None else (gr.update(), gr.update())

        gallery.select(selected, None, [download, command], queue=False)
    return page


def chosen_images(form: "StudioForm") -> Tuple[List[Tuple[str, str]], str]:
    """The form's images as the page shows them before a run ((path, caption) each), and a line per image that cannot
    be used (each read as the run would read it: a mask against the photo's size)."""
    content, styles, mask_paths = form.sources()
    shown, problems, content_size = [], [], None
    for role, path in [("content", content)] + [("style", s) for s in styles] + [("mask", m) for m in mask_paths]:
        if not path or (role == "mask" and content_size is None):
            continue
        try:
            if role == "mask":
                images.load_mask(path, "mask", content_size)
            else:
                loaded = images.load_image(path, role)
                content_size = loaded.size if role == "content" else content_size
            shown.append((path, f"{role}: {os.path.basename(path)}"))
        except NeuralStyleError as error:
            problems.append(f"**error:** {error}")
    return shown, "\n\n".join(problems)


def selected_entry(studio: Studio, index: Optional[int]) -> Optional[Tuple[List[str], str]]:
    """The gallery entry at `index` as the page offers it (its picture and settings to download, and the command that
    paints it), or None where there is none."""
    entries = studio.gallery.entries()
    if index is None or index >= len(entries):
        return None
    entry = entries[index]
    with open(entry.settings) as stream:
        return [entry.picture, entry.settings], json.load(stream).get("command", "")


def _gallery_items(studio: Studio) -> List[Tuple[str, str]]:
    return [(entry.picture, entry.caption) for entry in studio.gallery.entries()]


@dataclass
class Served:
    """The studio as served: its page (Gradio's Blocks), the address to open (with the token), and, on an address
    other machines can reach, the password Gradio asks for (user STUDIO_USER)."""

    page: Any
    url: str
    access: Access
    password: Optional[str] = None

    def close(self) -> None:
        self.page.close()


STUDIO_USER = "neural-style"


def launch(studio: Studio, host: str, port: int, password: Optional[str] = None) -> Served:
    """Serve the page on host:port (port 0: a free one), only to its user (guard.py: the token, the Host header, the
    origin); on a non-loopback `host`, behind a password too (`password`, else one generated)."""
    gr = _import_gradio()
    from starlette.middleware import Middleware  # Gradio's own dependency

    port = port or _free_port(host)
    _check_port(host, port)
    access = Access(host, port, cookie=True)  # Gradio's page cannot send our header: a cookie (access.py)
    if not is_loopback(host) and password is None:
        password = new_token()[:16]
    page = build_page(studio)
    page.queue(default_concurrency_limit=1, max_size=MAX_QUEUE)
    # Gradio's launch probes its own page without the token, which the guard refuses; its `_frontend` switch skips
    # that probe (the only thing it does), where this Gradio has it.
    probe = {"_frontend": False} if "_frontend" in inspect.signature(page.launch).parameters else {}
    try:
        page.launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True,
                    show_error=True, ssr_mode=False, inbrowser=False, share=False,
                    allowed_paths=[studio.gallery.folder, SAMPLES_FOLDER], theme=gr.themes.Default(),
                    auth=(STUDIO_USER, password) if password else None,
                    app_kwargs={"middleware": [Middleware(StudioGuard, access=access)]}, **probe)
    except OSError as error:
        raise NeuralStyleError(f"cannot serve the studio on {host}:{port} ({error}): pass a free --port") from None
    return Served(page, access.url(), access, password)


def _check_port(host: str, port: int) -> None:
    """A port in use, or an address this machine does not have, is a one-line error before anything is built."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, port))
    except OSError as error:
        if error.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise NeuralStyleError(f"port {port} is in use: pass a free one with --port PORT") from None
        raise NeuralStyleError(f"cannot serve the studio on {host}:{port} ({error.strerror or error}): "
                               "pass another --host or --port") from None


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


__all__ = ["STUDIO_USER", "Served", "build_page", "launch"]
