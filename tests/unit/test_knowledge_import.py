"""Files into knowledge entries (core/knowledge_import.py): Markdown and text
split at headings, CSV rows of question,answer, PDF pages; and the 400 that
says which line or page is wrong."""
from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter

from python_services.common.errors import ApiError
from python_services.core.knowledge_import import MAX_CONTENT, MAX_IMPORT_BYTES, parse
from tests.pdfs import BROKEN, make_pdf


def titles_and_contents(filename, data):
    source, entries = parse(filename, data)
    return source, [(e["title"], e["content"]) for e in entries]


def refusal(filename, data) -> str:
    with pytest.raises(ApiError) as refused:
        parse(filename, data)
    assert refused.value.status == 400 and refused.value.field == "file"
    return refused.value.message


# ---------------------------------------------------------------- Markdown and text


def test_a_markdown_file_becomes_an_entry_per_heading_under_its_parents():
    text = """# Loja Passo Certo

## Entregas

Enviamos para todo o Brasil.

### Prazo

Até 2 dias úteis em Curitiba.

## Trocas
Em até 30 dias.
"""
    assert titles_and_contents("faq.md", text.encode()) == ("faq.md", [
        ("Entregas", "Enviamos para todo o Brasil."),
        ("Entregas › Prazo", "Até 2 dias úteis em Curitiba."),
        ("Trocas", "Em até 30 dias."),
    ])


def test_markdown_text_before_the_first_heading_is_titled_with_the_files_name_and_code_is_never_split():
    text = "Welcome!\n\nSetext heading\n==============\nBody with code:\n\n```\n# not a heading\n```\n"
    assert titles_and_contents("docs/Guide.MD", text.encode()) == ("Guide.MD", [
        ("Guide", "Welcome!"),
        ("Setext heading", "Body with code:\n\n```\n# not a heading\n```"),
    ])


def test_a_text_file_is_split_at_its_heading_lines():
    text = ("Horário\n\nSegunda a sexta, 9h às 19h.\nSábado até 14h.\n\nPagamento\n\nPix, cartão e boleto.\n"
            "Parcelamos em 6x.\n")
    assert titles_and_contents("loja.txt", text.encode()) == ("loja.txt", [
        ("Horário", "Segunda a sexta, 9h às 19h.\nSábado até 14h."),
        ("Pagamento", "Pix, cartão e boleto.\nParcelamos em 6x."),
    ])


def test_a_text_file_without_headings_gives_an_entry_per_block_titled_by_its_first_line():
    text = "Where are you?\nRua XV, 1200.\n\nDo you deliver?\nYes, all of Brazil.\n"
    assert titles_and_contents("faq.txt", text.encode()) == ("faq.txt", [
        ("Where are you?", "Rua XV, 1200."), ("Do you deliver?", "Yes, all of Brazil.")])


def test_a_text_file_with_markdown_headings_is_read_as_markdown():
    assert titles_and_contents("a.txt", b"# Hours\nNine to five.\n# Address\nRua XV.\n")[1] == [
        ("Hours", "Nine to five."), ("Address", "Rua XV.")]


def test_a_file_saved_by_windows_software_is_read_as_windows_1252():
    assert titles_and_contents("a.txt", "# Horário\nAté às 19h.\n".encode("cp1252"))[1] == [("Horário", "Até às 19h.")]


def test_content_longer_than_an_entry_holds_is_split_into_numbered_parts():
    paragraph = "palavra " * 1000
    source, entries = parse("long.md", f"# Catálogo\n{paragraph}\n\n{paragraph}\n\n{paragraph}\n".encode())
    assert [e["title"] for e in entries] == ["Catálogo (1/2)", "Catálogo (2/2)"]
    assert all(len(e["content"]) <= MAX_CONTENT for e in entries)
    assert sum(e["content"].count("palavra") for e in entries) == 3000


# ---------------------------------------------------------------- CSV


def test_a_csv_gives_an_entry_per_question_with_its_tags_and_skips_the_header():
    data = ("pergunta;resposta;tags\n"
            "Qual o horário?;Das 9h às 19h.;horário|aberto\n"
            '"Aceitam Pix; cartão?";"Sim, os dois."\n').encode()
    assert parse("faq.csv", data) == ("faq.csv", [
        {"title": "Qual o horário?", "content": "Das 9h às 19h.", "tags": ["horário", "aberto"]},
        {"title": "Aceitam Pix; cartão?", "content": "Sim, os dois.", "tags": []},
    ])


def test_a_csv_with_commas_and_a_bom():
    data = "\ufeffquestion,answer\nDo you deliver?,\"Yes, nationwide.\"\n".encode()
    assert titles_and_contents("faq.csv", data)[1] == [("Do you deliver?", "Yes, nationwide.")]


@pytest.mark.parametrize("data, said", [
    (b"question,answer\nHours?,9 to 5\nonly one column\n", "line 3: expected question,answer (two columns)"),
    (b"Hours?,9 to 5\nAddress?,\n", "line 2: the answer is empty"),
    (b"Hours?,9 to 5\n,Rua XV\n", "line 2: the question is empty"),
    (b"a,b,c,d\n", "line 1: expected question,answer[,tags], found 4 columns"),
])
def test_a_bad_csv_row_is_refused_naming_its_line(data, said):
    assert refusal("faq.csv", data).startswith(said)


# ---------------------------------------------------------------- PDF


def test_a_pdf_gives_an_entry_per_page_with_text():
    data = make_pdf([["Horário de funcionamento", "Abrimos às 9h, de segunda a sábado."], [],
                     ["Trocas", "Em até 30 dias (sem uso)."]])
    assert titles_and_contents("catalogo.pdf", data) == ("catalogo.pdf", [
        ("Horário de funcionamento (p. 1)", "Horário de funcionamento\nAbrimos às 9h, de segunda a sábado."),
        ("Trocas (p. 3)", "Trocas\nEm até 30 dias (sem uso)."),
    ])


def test_a_pdf_page_that_cannot_be_decoded_is_refused_naming_the_page():
    assert refusal("menu.pdf", make_pdf([["Page one"], BROKEN])).startswith("page 2: its text cannot be read")


def test_a_pdf_with_no_text_at_all_says_it_needs_ocr():
    assert "OCR" in refusal("scan.pdf", make_pdf([[], []]))


def test_a_password_protected_pdf_is_refused():
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["secret"]]))))
    writer.encrypt("pw")
    out = io.BytesIO()
    writer.write(out)
    assert "encrypted" in refusal("locked.pdf", out.getvalue())


@pytest.mark.parametrize("data", [b"plain text, not a PDF", b"%PDF-1.7\n1 0 obj garbage"])
def test_something_that_is_not_a_readable_pdf_is_refused(data):
    message = refusal("x.pdf", data)
    assert "not a PDF" in message or "not a readable PDF" in message


# ---------------------------------------------------------------- any file


@pytest.mark.parametrize("filename, data, said", [
    ("faq.docx", b"PK\x03\x04", "only .md, .txt, .csv and .pdf"),
    ("", b"# x\ny", "the file needs a name"),
    ("empty.md", b"", "is empty"),
    ("blank.md", b"\n\n  \n", "holds no text"),
    ("big.txt", b"x" * (MAX_IMPORT_BYTES + 1), f"at most {MAX_IMPORT_BYTES:,} can be imported"),
    ("nul.txt", b"# a\nb\x00c", "line 2: a NUL character"),
])
def test_files_that_cannot_be_imported_are_refused_saying_why(filename, data, said):
    assert said in refusal(filename, data)
