"""What a student or instructor does in JupyterLab, as Playwright steps (sync API).

Everything waits with Playwright's auto-waiting (``expect``) and generous timeouts; nothing
asserts how long a step takes.
"""

from __future__ import annotations

import re

from playwright.sync_api import FrameLocator, Locator, Page, expect

#: Default wait for one step (a menu, a list, a cell).
STEP_MS = 120_000
#: nbgrader's Validate runs the whole notebook on the server.
VALIDATE_MS = 600_000

_EXECUTED = re.compile(r"^\[\d+\]:$")


def open_lab(page: Page, url: str) -> None:
    page.goto(url)
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=STEP_MS)
    expect(page.locator("#jp-main-dock-panel")).to_be_visible()


def menu(page: Page, label: str, command: str) -> None:
    """Click a main-menu entry, e.g. ``menu(page, "Run", "runmenu:run-all")``."""
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(f"^{label}$")).click()
    page.locator(f'.lm-Menu li[data-command="{command}"]').click()


def hide_left_sidebar(page: Page) -> None:
    """Collapse the left sidebar. Clicking the open sidebar's tab collapses it; a click while
    JupyterLab is still restoring its layout can be lost (seen once in CI), so it is repeated
    while the sidebar stays open."""
    stack = page.locator("#jp-left-stack")
    for _ in range(4):
        if not stack.is_visible():
            return
        page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
        try:
            expect(stack).to_be_hidden(timeout=15_000)
            return
        except AssertionError:
            continue
    expect(stack).to_be_hidden()


# --------------------------------------------------------------------------------------------
# nbgrader's assignment list (student)
# --------------------------------------------------------------------------------------------


def open_assignment_list(page: Page) -> None:
    """Nbgrader > Assignment List; wait until all three lists have loaded."""
    menu(page, "Nbgrader", "nbgrader:open-assignment-list")
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current")
    expect(tab).to_have_text(re.compile("Assignments"))
    for name in ("released", "fetched", "submitted"):
        expect(page.locator(f"#{name}_assignments_list_loading")).to_be_hidden(timeout=STEP_MS)
        expect(page.locator(f"#{name}_assignments_list_error")).to_be_hidden()


def assignment_rows(page: Page, which: str) -> Locator:
    """Rows of the ``released``, ``fetched`` or ``submitted`` list."""
    return page.locator(f"#{which}_assignments_list > .list_item")


def assignment_row(page: Page, which: str, assignment: str) -> Locator:
    name = re.compile(rf"^\s*{re.escape(assignment)}\s*$")
    return assignment_rows(page, which).filter(
        has=page.locator(":scope > div > .item_name", has_text=name)
    )


def listed_names(page: Page, which: str) -> list[str]:
    names = page.locator(f"#{which}_assignments_list > .list_item > div > .item_name")
    return [n.strip() for n in names.all_text_contents()]


def open_fetched_notebook(page: Page, assignment: str, notebook: str) -> None:
    """Expand a downloaded assignment and open one of its notebooks."""
    row = assignment_row(page, "fetched", assignment)
    link = row.locator("a.assignment-notebooks-link")
    container = page.locator(f'[id="{link.get_attribute("aria-controls")}"]')
    if not container.locator(".nested_list_item").first.is_visible():
        link.click()
    container.locator(".nested_list_item .item_name a", has_text=re.compile(f"^{notebook}$")).click()
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current")).to_have_text(
        re.compile(re.escape(f"{notebook}.ipynb"))
    )


# --------------------------------------------------------------------------------------------
# A notebook (student)
# --------------------------------------------------------------------------------------------


def notebook_panel(page: Page, n_cells: int) -> Locator:
    """The open notebook, once all its ``n_cells`` cells are on the page (Lab adds them in
    batches) and its kernel is idle (a run asked for earlier would be dropped)."""
    panel = page.locator(".jp-NotebookPanel:visible")
    expect(panel.locator(".jp-Notebook-cell")).to_have_count(n_cells, timeout=STEP_MS)
    expect(panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute(
        "data-status", "idle", timeout=STEP_MS
    )
    return panel


def cells(panel: Locator) -> Locator:
    return panel.locator(".jp-Notebook-cell")


_RUNNING_JS = """panel => [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
    .every(prompt => prompt.textContent.trim() !== '[*]:')"""


def _settle(page: Page, panel: Locator) -> None:
    """Wait until no cell is queued or running and the kernel is idle. Prompts are read from
    the DOM text: cells scrolled out of view are not rendered, so their inner text is empty."""
    page.wait_for_function(_RUNNING_JS, arg=panel.element_handle(), timeout=STEP_MS)
    expect(panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute(
        "data-status", "idle", timeout=STEP_MS
    )


def _not_run(panel: Locator) -> list[int]:
    prompts = panel.locator(".jp-CodeCell .jp-InputArea-prompt").all_text_contents()
    return [i for i, text in enumerate(prompts) if not _EXECUTED.match(text.strip())]


def run_all_past_stubs(page: Page, panel: Locator) -> int:
    """Run > Run All Cells; where a stub stops the run, carry on from the next cell.

    This is what a student does with an unanswered notebook: JupyterLab stops at the first
    error (``raise NotImplementedError()``) and skips the cells after it, so the student runs
    the rest from the next cell (Run > Run Selected Cell and All Below). Returns the number of
    runs it took.
    """
    code = panel.locator(".jp-CodeCell")
    cells(panel).first.click()
    menu(page, "Run", "runmenu:run-all")
    _settle(page, panel)
    runs, previous, attempts = 1, None, 0
    while pending := _not_run(panel):
        first = pending[0]
        # a cell sent while the kernel is still discarding the queue after an error is skipped
        # too; run it again, but never loop on a cell that does not run
        attempts = attempts + 1 if first == previous else 1
        if attempts > 3:
            raise AssertionError(f"code cell {first} does not run (tried {attempts - 1} times)")
        previous = first
        code.nth(first).locator(".jp-InputArea-prompt").click()
        menu(page, "Run", "notebook:run-all-below")
        _settle(page, panel)
        runs += 1
    return runs


def save(page: Page) -> None:
    menu(page, "File", "docmanager:save")
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current")).not_to_have_class(
        re.compile(r"\bjp-mod-dirty\b")
    )


def type_into_cell(page: Page, cell: Locator, text: str) -> None:
    """Replace a cell's text as a student would (rendered markdown is opened for editing)."""
    if "jp-MarkdownCell" in (cell.get_attribute("class") or "") and cell.locator(
        ".jp-MarkdownOutput"
    ).is_visible():
        cell.locator(".jp-MarkdownOutput").dblclick()
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(text)
    page.keyboard.press("Escape")


def validate(page: Page, panel: Locator) -> Locator:
    """Click nbgrader's Validate button; return the result dialog once it is shown."""
    panel.locator("jp-button.validate-button").click()
    dialog = page.locator(".nbgrader-ErrorDialog, .nbgrader-SuccessDialog")
    expect(dialog).to_be_visible(timeout=VALIDATE_MS)
    return dialog


def close_dialog(dialog: Locator) -> None:
    dialog.locator("button.jp-Dialog-button").last.click()
    expect(dialog).to_be_hidden()


# --------------------------------------------------------------------------------------------
# The formgrader (instructor)
# --------------------------------------------------------------------------------------------


def open_formgrader(page: Page) -> FrameLocator:
    """Nbgrader > Formgrader; return the formgrader's frame once its table has loaded."""
    menu(page, "Nbgrader", "nbgrader:open-formgrader")
    frame = page.frame_locator("#jp-main-dock-panel .lm-DockPanel-widget:visible iframe")
    expect(frame.locator(".breadcrumb li").first).to_have_text("Assignments", timeout=STEP_MS)
    expect(frame.locator("#main-table td.name").first).to_be_attached(timeout=STEP_MS)
    return frame
