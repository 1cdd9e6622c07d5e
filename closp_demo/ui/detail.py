"""The detail view (Gradio blocks): one result or upload beside its other-sensor counterpart,
switchable composites, the sensor plots and the evidence of the match. Built below the tabs,
so opening an image never loses the result list."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from closp_demo.service import Explorer
from closp_demo.views.assets import read_text_asset
from closp_demo.views.composites import COMPOSITES, default_key, for_sensor
from closp_demo.views.detail import Detail, DetailError
from closp_demo.views.escape import escape_markdown
from closp_demo.views.figures import class_breakdown

OPEN_FROM_MAP_JS = read_text_asset("js/open-from-map.js")  # map popup -> detail view
SCROLL_TO_DETAIL_JS = read_text_asset("js/scroll-to-detail.js")


def composite_help(key: str) -> str:
    c = COMPOSITES[key]
    return f"**{c.title}**: `{c.formula}`. {c.meaning}"


@dataclass
class DetailView:
    image_id: gr.Textbox
    opens: list  # [(fn, inputs, outputs)] to chain after anything that sets `image_id`

    def open_from(self, dependency) -> None:
        """Chain the opening steps after an event that wrote an id into `image_id`."""
        dependency = dependency.then(None, None, None, js=SCROLL_TO_DETAIL_JS, api_name=False)
        for fn, inputs, outputs in self.opens:
            dependency = dependency.then(fn, inputs, outputs, api_name=False)


def picked_id(table, evt: gr.SelectData) -> str:
    """The id of a gallery item or table cell picked: the `id` column of that result row."""
    index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
    try:
        return str(table["id"].iloc[int(index)])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return ""


def wire_results(view: DetailView, gallery: gr.Gallery, table: gr.Dataframe) -> None:
    """A gallery click or a table row click opens that result."""
    for component in (gallery, table):
        view.open_from(component.select(picked_id, [table], [view.image_id], api_name=False))


def _side(key: str, label: str) -> tuple[gr.Markdown, gr.Radio, gr.Image, gr.Markdown]:
    """One side of the detail view: facts, composite choice, image, composite help."""
    with gr.Column():
        facts = gr.Markdown(elem_id=f"detail-{key}-facts")
        pick = gr.Radio([], label="Composite", elem_id=f"detail-{key}-composite")
        image = gr.Image(label=label, elem_id=f"detail-{key}-image", interactive=False,
                         show_label=False, height=380)  # fmt: skip
        return facts, pick, image, gr.Markdown()


def build_detail(explorer: Explorer, query: gr.Textbox, overlay: gr.State) -> DetailView:
    """The detail blocks; returns the id box and button that open an image."""
    state = gr.State(None)  # the open Detail (per session)
    with gr.Group(elem_id="detail-view"):
        gr.HTML("", js_on_load=OPEN_FROM_MAP_JS, visible=True, padding=False)
        gr.Markdown("## Open an image: click a thumbnail, a table row or a map popup's button")
        with gr.Row():
            image_id = gr.Textbox(label="Image id", elem_id="detail-id", scale=4, max_lines=1,
                                  placeholder="an id from the table, or upload:<file>")  # fmt: skip
            open_btn = gr.Button("Open", elem_id="detail-open", scale=1, variant="primary")
        status = gr.Markdown(elem_id="detail-status")
        # Hidden until an image opens: empty image and plot frames filled a phone's screen.
        body = gr.Column(visible=False, elem_id="detail-body")
        with body:
            with gr.Row(equal_height=False):
                main_facts, main_pick, main_img, main_help = _side("main", "Image")
                twin_facts, twin_pick, twin_img, twin_help = _side("twin", "Other sensor")
            with gr.Accordion("Plots and why it matched", open=True):
                with gr.Row():
                    main_plot = gr.Plot(label="Plot of the image", elem_id="detail-main-plot")
                    twin_plot = gr.Plot(
                        label="Plot of the other sensor", elem_id="detail-twin-plot"
                    )
                with gr.Row():
                    breakdown = gr.Plot(label="Score by class", elem_id="detail-breakdown")
                    evidence = gr.Plot(label="Per-pixel evidence", elem_id="detail-evidence")
                occlude_btn = gr.Button("Occlusion map for the query (computed on demand)")
                occlusion = gr.Plot(
                    label="Occlusion map", visible=False, elem_id="detail-occlusion"
                )

    def open_detail(iid, q, ov):
        try:
            d: Detail = explorer.detail(iid, q, ov)
        except DetailError as err:
            return (None, f"⚠️ {escape_markdown(err)}", gr.update(visible=False), "",
                    gr.update(choices=[], value=None), None, "", "",
                    gr.update(choices=[], value=None), None, "")  # fmt: skip
        outs = [d, f"✅ Opened {escape_markdown(d.main.title)}", gr.update(visible=True)]
        for side in (d.main, d.twin):
            # what a side lacks (no twin, no composites, no pixels) is hidden, not an empty frame
            if side is None:
                outs += [d.twin_markdown(), gr.update(choices=[], value=None, visible=False),
                         gr.update(value=None, visible=False), ""]  # fmt: skip
                continue
            facts = side.facts_markdown() if side is d.main else d.twin_markdown()
            key = default_key(side.sensor) if side.composites else None
            choices = [(c.title, c.key) for c in for_sensor(side.sensor) if side.composites]
            image = explorer.composite(side, key)
            outs += [facts, gr.update(choices=choices, value=key, visible=bool(choices)),
                     gr.update(value=image, visible=image is not None),
                     composite_help(key) if key else ""]  # fmt: skip
        return tuple(outs)

    def plots(d: Detail | None, q):
        """The figures of the open image; a plot with nothing to draw (no twin, no query's
        breakdown, no pixels) is hidden, and an occlusion map of the last image goes."""
        hide = gr.update(value=None, visible=False)
        if d is None:
            return hide, hide, hide, hide, hide, gr.update(visible=False)
        figures = _figures(d, q)
        shown = [hide if f is None else gr.update(value=f, visible=True) for f in figures]
        return (*shown, hide, gr.update(visible=d.main.pixels is not None))

    def _figures(d: Detail, q):
        b = d.breakdown
        chart = (class_breakdown(b["classes"], b["p"], b["s"], b["contributions"], b["score"])
                 if b else None)  # fmt: skip
        ev = explorer.evidence(d.main, q) if (q or "").strip() or d.breakdown is None else None
        if ev is None:
            ev = explorer.evidence(d.main, None) if d.main.pixels is not None else None
        twin_plot_fig = explorer.plot(d.twin) if d.twin else None
        return explorer.plot(d.main), twin_plot_fig, chart, ev

    def switch(d: Detail | None, key, which):
        side = None if d is None else (d.main if which == "main" else d.twin)
        if side is None or not key:
            return None, ""
        return explorer.composite(side, key), composite_help(key)

    outputs = [state, status, body, main_facts, main_pick, main_img, main_help,
               twin_facts, twin_pick, twin_img, twin_help]  # fmt: skip
    opens = [
        (open_detail, [image_id, query, overlay], outputs),
        (
            plots,
            [state, query],
            [main_plot, twin_plot, breakdown, evidence, occlusion, occlude_btn],
        ),
    ]
    view = DetailView(image_id, opens)
    for trigger in (open_btn.click, image_id.submit):
        view.open_from(trigger(lambda iid: iid, [image_id], [image_id], api_name=False))
    main_pick.input(lambda d, k: switch(d, k, "main"), [state, main_pick], [main_img, main_help],
                    api_name=False)  # fmt: skip
    twin_pick.input(lambda d, k: switch(d, k, "twin"), [state, twin_pick], [twin_img, twin_help],
                    api_name=False)  # fmt: skip

    def occlude(d: Detail | None, q):
        if d is None or d.main.pixels is None:
            return gr.update(value=None, visible=False)
        try:
            return gr.update(value=explorer.occlusion(d.main, q), visible=True)
        except ValueError as err:
            raise gr.Error(str(err)) from None

    occlude_btn.click(occlude, [state, query], [occlusion], api_name=False)
    return view
