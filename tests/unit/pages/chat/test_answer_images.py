"""Images in answers: links by default, images only from the hosts the admin allows."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import reflex as rx

from pyairtable_ui.core.settings import Settings
from pyairtable_ui.pages.chat.parts import answer_image, image_host_check

ROOT = Path(__file__).resolve().parents[4]


def _img_renderer(hosts: list[str]) -> str:
    from reflex_components_markdown.markdown import Markdown

    markdown = Markdown.create("x", component_map={"img": lambda *_, **__: answer_image(hosts)})
    return str(markdown.format_component_map()["img"])


def test_no_image_element_is_rendered_by_default() -> None:
    assert Settings(_env_file=None).answer_image_hosts == []
    code = _img_renderer([])
    assert 'jsx("img"' not in code
    assert "to:props.src" in code, "the image URL becomes the link's target"
    assert 'className:"answer-image-url"},"(",props.src,")"' in code, "the URL is shown"


def test_allowed_hosts_render_the_image_only_behind_the_host_check() -> None:
    code = _img_renderer(["img.example.com"])
    check, image = code.index('["img.example.com"].includes'), code.index('jsx("img"')
    assert check < image


def test_hosts_are_read_comma_separated_in_lower_case() -> None:
    settings = Settings(_env_file=None, answer_image_hosts=" IMG.example.com, cdn.example.org ,")
    assert settings.answer_image_hosts == ["img.example.com", "cdn.example.org"]


@pytest.mark.parametrize(
    ("src", "loads"),
    [
        ("https://img.example.com/chart.png", True),
        ("http://IMG.EXAMPLE.COM:8080/chart.png", True),
        ("https://img.example.com.evil.test/x.png?data=secret", False),
        ("https://evil.test/x.png?host=img.example.com", False),
        ("https://user@evil.test/img.example.com", False),
        ("//img.example.com/chart.png", False),
        ("/api/chart.png", False),
        ("", False),
        ("data:image/png;base64,AAAA", False),
        ("ftp://img.example.com/chart.png", False),
    ],
)
def test_the_host_check_in_the_browser_language(src: str, loads: bool) -> None:
    bun = shutil.which("bun", path=str(ROOT / ".tools" / "bin")) or shutil.which("bun")
    if bun is None:
        pytest.skip("bun is not installed (make setup)")
    expression = image_host_check(rx.Var(_js_expr="src").to(str), ["img.example.com"])
    script = f"const src = {json.dumps(src)}; console.log(JSON.stringify({expression._js_expr}));"
    result = subprocess.run([bun, "-e", script], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) is loads


def test_answers_render_tables_without_math_or_highlighting() -> None:
    """GFM stays (answers show tables); KaTeX and the highlighter stay out of the page."""
    from pyairtable_ui.pages.chat.parts import answer_markdown

    rendered = answer_markdown("| a |\n| - |\n| 1 |")
    libraries = set(rendered._get_all_imports())
    assert "remark-gfm@4.0.1" in libraries
    assert not {lib for lib in libraries if "katex" in lib or "math" in lib}
    assert not {lib for lib in libraries if "syntax-highlighter" in lib}
    code = str(rendered.children[0].format_component_map()["pre"])
    assert 'jsx("pre"' in code and 'jsx("code"' in code
