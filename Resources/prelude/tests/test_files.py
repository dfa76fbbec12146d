"""read, write, append, replace, diff — in a workspace holding a copy of fixtures/."""

import os

from pyrun_prelude import append, diff, read, replace, write
from status_recorder import recorded, statuses


def raises(exc_type, call, *args, **kwargs):
    """The exception `call` raised, which must be an `exc_type`."""
    try:
        call(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("%s did not raise %s" % (call.__name__, exc_type.__name__))


def content(path):
    with open(path, "rb") as f:
        return f.read()


# read


def test_read_numbers_every_line():
    assert read("notes.txt") == "1\talpha\n2\tbeta\n3\tgamma\n"


def test_read_from_offset_with_limit_says_what_remains():
    assert read("notes.txt", offset=2, limit=1).splitlines() == [
        "2\tbeta",
        "[... 1 more line: read('notes.txt', offset=3) continues]",
    ]


def test_read_aligns_numbers_of_different_widths():
    write("twelve.txt", "".join("l%d\n" % n for n in range(1, 13)))
    lines = read("twelve.txt", offset=9).splitlines()
    assert lines[0] == " 9\tl9"
    assert lines[-1] == "12\tl12"


def test_read_drops_carriage_returns_of_crlf_files():
    assert read("crlf.txt") == "1\tone\n2\ttwo\n"


def test_read_last_line_without_newline_is_a_line():
    write("open-end.txt", "a\nb")
    assert read("open-end.txt") == "1\ta\n2\tb\n"


def test_read_past_the_end_says_how_long_the_file_is():
    assert read("notes.txt", offset=10) == "['notes.txt' has 3 lines; offset 10 is past the end]\n"


def test_read_displays_as_the_text_itself():
    assert repr(read("notes.txt", limit=1)) == "1\talpha\n[... 2 more lines: read('notes.txt', offset=2) continues]"


def test_read_missing_file_names_the_path():
    error = raises(FileNotFoundError, read, "no/such/file.txt")
    assert "no/such/file.txt" in str(error)


def test_read_directory_names_the_path():
    error = raises(IsADirectoryError, read, "src")
    assert "src" in str(error)


def test_read_refuses_binary_files():
    error = raises(ValueError, read, "image.bin")
    assert "image.bin" in str(error) and "binary" in str(error)


def test_read_rejects_offset_zero():
    assert "offset" in str(raises(ValueError, read, "notes.txt", offset=0))


def test_read_reports_its_status():
    text, payloads = statuses(read, "notes.txt", offset=2)
    assert payloads == [{"op": "read", "path": "notes.txt", "offset": 2, "lines": 2, "totalLines": 3}]


def test_status_has_a_short_plain_text_line():
    with recorded() as seen:
        read("notes.txt")
    assert seen[0][1] == "read notes.txt: lines 1-3 of 3"


# write and append


def test_write_creates_parents_and_returns_the_path():
    assert write("new/deeper/file.txt", "x = 1\n") == "new/deeper/file.txt"
    assert content("new/deeper/file.txt") == b"x = 1\n"


def test_write_replaces_and_keeps_text_exactly():
    write("exact.txt", "first\n")
    write("exact.txt", "a\r\nb\u00e9")
    assert content("exact.txt") == "a\r\nb\u00e9".encode("utf-8")


def test_write_accepts_bytes():
    write("raw.bin", b"\x00\x01")
    assert content("raw.bin") == b"\x00\x01"


def test_write_rejects_other_values_with_a_clear_type_error():
    error = raises(TypeError, write, "number.txt", 42)
    assert "int" in str(error)
    assert not os.path.exists("number.txt")


def test_write_reports_whether_the_file_is_new():
    _, first = statuses(write, "status.txt", "abc")
    _, second = statuses(write, "status.txt", "abcd")
    assert first == [{"op": "write", "path": "status.txt", "bytes": 3, "created": True}]
    assert second == [{"op": "write", "path": "status.txt", "bytes": 4, "created": False}]


def test_append_creates_then_appends():
    assert append("log/app.log", "one\n") == "log/app.log"
    append("log/app.log", "two\n")
    assert content("log/app.log") == b"one\ntwo\n"


# replace


def test_replace_makes_one_exact_edit_and_returns_its_diff():
    write("edit.py", "x = 1\ny = 2\n")
    change = replace("edit.py", "y = 2", "y = 3")
    assert content("edit.py") == b"x = 1\ny = 3\n"
    assert "-y = 2\n+y = 3\n" in change


def test_replace_fails_when_old_is_missing_and_leaves_the_file():
    write("edit2.py", "x = 1\n")
    error = raises(ValueError, replace, "edit2.py", "z = 1", "z = 2")
    assert "not found" in str(error) and "edit2.py" in str(error)
    assert content("edit2.py") == b"x = 1\n"


def test_replace_fails_when_old_occurs_more_often_than_count():
    write("edit3.py", "a = 0\na = 0\n")
    error = raises(ValueError, replace, "edit3.py", "a = 0", "a = 1")
    assert "occurs 2 times" in str(error) and "count=2" in str(error)
    assert content("edit3.py") == b"a = 0\na = 0\n"


def test_replace_with_count_replaces_every_occurrence_up_to_it():
    write("edit4.py", "a\na\nb\n")
    replace("edit4.py", "a", "c", count=2)
    assert content("edit4.py") == b"c\nc\nb\n"


def test_replace_with_count_none_replaces_all():
    write("edit5.py", "k k k\n")
    replace("edit5.py", "k", "v", count=None)
    assert content("edit5.py") == b"v v v\n"


def test_replace_hints_at_indentation_differences():
    write("edit6.py", "def f():\n    return 1\n")
    error = raises(ValueError, replace, "edit6.py", "def f():\nreturn 1", "x")
    assert "indentation" in str(error)


def test_replace_missing_file_names_the_path():
    assert "gone.py" in str(raises(FileNotFoundError, replace, "gone.py", "a", "b"))


def test_replace_reports_how_many_replacements():
    write("edit7.py", "q q\n")
    _, payloads = statuses(replace, "edit7.py", "q", "r", count=2)
    assert payloads == [{"op": "replace", "path": "edit7.py", "replacements": 2}]


# diff


def test_diff_of_two_texts():
    assert diff("a\nb\n", "a\nc\n") == "--- a\n+++ b\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"


def test_diff_of_two_files_uses_their_paths_as_labels():
    write("left.txt", "same\nold\n")
    write("right.txt", "same\nnew\n")
    assert diff("left.txt", "right.txt").splitlines()[:2] == ["--- left.txt", "+++ right.txt"]


def test_diff_of_a_file_and_new_text():
    assert "+delta\n" in diff("notes.txt", "alpha\nbeta\ngamma\ndelta\n")


def test_diff_of_equal_inputs_is_empty():
    assert diff("notes.txt", "alpha\nbeta\ngamma\n") == ""


def test_diff_marks_a_missing_final_newline():
    assert "\\ No newline at end of file" in diff("a\n", "a\nb")


def test_diff_of_a_missing_path_says_text_needs_a_newline():
    error = raises(FileNotFoundError, diff, "notes.txt", "no-newline-so-a-path")
    assert "no-newline-so-a-path" in str(error) and "newline" in str(error)


def test_diff_reports_added_and_removed_lines():
    _, payloads = statuses(diff, "a\nb\n", "a\nc\nd\n")
    assert payloads == [{"op": "diff", "a": "<text>", "b": "<text>", "added": 2, "removed": 1}]


def test_diff_splits_lines_at_newlines_only():
    assert diff("a\x0cb\n", "a\x0cc\n") == "--- a\n+++ b\n@@ -1 +1 @@\n-a\x0cb\n+a\x0cc\n"
