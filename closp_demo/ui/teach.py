"""The Teach tab (Gradio blocks): one-click lessons, two real corpus images side by side with
sentences computed from them (closp_demo.views.lessons); either image opens in the detail view."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from closp_demo.service import Explorer
from closp_demo.ui.detail import DetailView
from closp_demo.views.composites import COMPOSITES
from closp_demo.views.escape import escape_markdown
from closp_demo.views.figures import composite_image
from closp_demo.views.lessons import LESSONS, LessonError, show


def build_teach(explorer: Explorer) -> Callable[[DetailView], None]:
    """The tab's blocks, inside the caller's `gr.Tab`. Returns the wiring of its two "open"
    buttons to the detail view, which the page builds later (below the tabs)."""
    gr.Markdown(
        "Pick a lesson: two real images of the corpus side by side, and what they show. Every "
        "number in a lesson is measured on these images when you open it."
    )
    pick = gr.Radio([(lesson.title, key) for key, lesson in LESSONS.items()], value=None,
                    label="Lessons", elem_id="teach-pick")  # fmt: skip
    text = gr.Markdown(elem_id="teach-text")
    ids = gr.State(("", ""))
    with gr.Row(equal_height=False):
        with gr.Column():
            left = gr.Image(label="Left", elem_id="teach-left", interactive=False, height=380)
            left_cap = gr.Markdown(elem_id="teach-left-caption")
            left_btn = gr.Button("Open the left image in the detail view", size="sm")
        with gr.Column():
            right = gr.Image(label="Right", elem_id="teach-right", interactive=False, height=380)
            right_cap = gr.Markdown(elem_id="teach-right-caption")
            right_btn = gr.Button("Open the right image in the detail view", size="sm")

    def open_lesson(key):
        if not key:
            return "", None, "", None, "", ("", "")
        try:
            shown = show(explorer.corpus, key)
        except LessonError as err:
            return f"⚠️ {escape_markdown(err)}", None, "", None, "", ("", "")
        lesson = shown.lesson
        caps = [f"**{COMPOSITES[c].title}** (`{COMPOSITES[c].formula}`)  \n{escape_markdown(cap)}"
                for c, cap in zip((lesson.left_composite, lesson.right_composite),
                                  shown.captions, strict=True)]  # fmt: skip
        return (shown.markdown(), composite_image(shown.left, lesson.left_composite), caps[0],
                composite_image(shown.right, lesson.right_composite), caps[1],
                (lesson.left, lesson.right))  # fmt: skip

    pick.change(open_lesson, [pick], [text, left, left_cap, right, right_cap, ids],
                api_name=False)  # fmt: skip

    def wire(view: DetailView) -> None:
        for i, btn in enumerate((left_btn, right_btn)):
            view.open_from(btn.click(lambda pair, i=i: pair[i], [ids], [view.image_id],
                                     api_name=False))  # fmt: skip

    return wire
