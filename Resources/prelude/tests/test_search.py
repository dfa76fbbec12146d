"""ls, tree, find, grep — over a copy of fixtures/ (src/, docs/, notes.txt, image.bin, ...)."""

import os

from pyrun_prelude import find, grep, ls, tree, write
from status_recorder import statuses


def raises(exc_type, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("%s did not raise %s" % (call.__name__, exc_type.__name__))


def make_repo(root):
    """A directory with a .git and a node_modules that searches must skip."""
    write(root + "/.git/config", "TODO in git\n")
    write(root + "/node_modules/pkg/index.js", "TODO in deps\n")
    write(root + "/main.txt", "TODO in main\n")
    write(root + "/.env", "SECRET=1\n")
    return root


# ls


def test_ls_lists_names_in_order_with_directories_marked():
    assert ls("src") == ["app.py", "deep/", "util.py"]


def test_ls_includes_hidden_entries():
    make_repo("repo-ls")
    assert ls("repo-ls") == [".env", ".git/", "main.txt", "node_modules/"]


def test_ls_prints_one_name_per_line():
    assert repr(ls("src")) == "app.py\ndeep/\nutil.py"


def test_ls_of_a_file_or_missing_path_names_it():
    assert "notes.txt" in str(raises(NotADirectoryError, ls, "notes.txt"))
    assert "nowhere" in str(raises(FileNotFoundError, ls, "nowhere"))


def test_ls_reports_its_status():
    _, payloads = statuses(ls, "src")
    assert payloads == [{"op": "ls", "path": "src", "entries": 3}]


# tree


def test_tree_indents_levels_and_marks_directories():
    assert tree("src") == "src/\n  app.py\n  deep/\n    inner.py\n  util.py\n"


def test_tree_depth_cuts_off_with_entry_counts():
    assert tree("src", depth=1) == "src/\n  app.py\n  deep/  (1 entry)\n  util.py\n"


def test_tree_skips_version_control_and_dependency_directories():
    make_repo("repo-tree")
    assert tree("repo-tree") == "repo-tree/\n  .env\n  main.txt\n"


def test_tree_rejects_depth_zero():
    raises(ValueError, tree, ".", depth=0)


# find


def test_find_matches_names_at_any_depth():
    assert find("*.py") == ["src/app.py", "src/deep/inner.py", "src/util.py"]


def test_find_results_are_joined_to_the_start_path():
    assert find("*.py", "src/deep") == ["src/deep/inner.py"]


def test_find_pattern_with_a_slash_matches_the_relative_path():
    assert find("src/*.py") == ["src/app.py", "src/util.py"]
    assert find("src/**/*.py") == ["src/app.py", "src/deep/inner.py", "src/util.py"]


def test_find_marks_directories():
    assert find("deep") == ["src/deep/"]


def test_find_skips_git_and_node_modules():
    make_repo("repo-find")
    assert find("*", "repo-find") == ["repo-find/.env", "repo-find/main.txt"]


def test_find_with_no_match_is_an_empty_list_that_says_so():
    found = find("*.rs")
    assert found == [] and repr(found) == "(none)"


def test_find_reports_its_status():
    _, payloads = statuses(find, "*.md")
    assert payloads == [{"op": "find", "path": ".", "glob": "*.md", "matches": 1}]


# grep


def test_grep_returns_match_records():
    hits = grep("TODO", "src")
    assert [(m.path, m.line, m.text) for m in hits] == [
        ("src/app.py", 5, "    # TODO: parse arguments"),
        ("src/util.py", 2, "    return 42  # TODO: explain"),
    ]


def test_grep_prints_like_grep_n():
    assert repr(grep("TODO", "src")) == (
        "src/app.py:5:     # TODO: parse arguments\n"
        "src/util.py:2:     return 42  # TODO: explain"
    )


def test_grep_skips_binary_files():
    assert all(m.path != "image.bin" for m in grep("TODO"))


def test_grep_skips_git_and_node_modules():
    make_repo("repo-grep")
    assert [m.path for m in grep("TODO", "repo-grep")] == ["repo-grep/main.txt"]


def test_grep_glob_keeps_only_matching_files():
    assert [m.path for m in grep("TODO", glob="app.*")] == ["src/app.py"]


def test_grep_takes_a_regular_expression_and_inline_flags():
    assert [m.text for m in grep(r"(?i)^ALPHA$|^gam+a$", "notes.txt")] == ["alpha", "gamma"]


def test_grep_context_lines_come_with_each_match():
    (match,) = grep("return util", "src", context=1)
    assert match.before == [(5, "    # TODO: parse arguments")]
    assert match.after == []
    assert repr(grep("beta", "notes.txt", context=1)) == (
        "notes.txt-1- alpha\nnotes.txt:2: beta\nnotes.txt-3- gamma"
    )


def test_grep_with_no_match_says_so():
    assert repr(grep("no such words")) == "(no matches)"


def test_grep_bad_pattern_is_a_value_error_naming_it():
    assert "(unclosed" in str(raises(ValueError, grep, "(unclosed"))


def test_grep_missing_path_names_it():
    assert "nowhere" in str(raises(FileNotFoundError, grep, "x", "nowhere"))


def test_grep_reports_its_status():
    _, payloads = statuses(grep, "TODO", "src")
    assert payloads == [{"op": "grep", "path": "src", "pattern": "TODO", "glob": None, "matches": 2,
                         "files": 2, "searched": 3, "skipped": 0}]


def test_grep_handles_files_that_are_not_utf8():
    with open("latin1.txt", "wb") as f:
        f.write(b"caf\xe9 TODO\n")
    (match,) = grep("TODO", "latin1.txt")
    assert match.text == "caf\ufffd TODO"
    os.remove("latin1.txt")


def test_grep_anchors_work_in_crlf_files_and_with_line_anchors():
    assert [m.text for m in grep("one$", "crlf.txt")] == ["one"]
    assert [m.line for m in grep(r"\Atwo", "crlf.txt")] == [2]


def test_find_sets_in_patterns():
    assert find("[au]*.py", "src") == ["src/app.py", "src/util.py"]
    assert find("[!a]*.py", "src") == ["src/deep/inner.py", "src/util.py"]
    write("odd/]x.txt", "")
    write("odd/^y.txt", "")
    assert find("[]]*", "odd") == ["odd/]x.txt"]
    assert find("[!]]*", "odd") == ["odd/^y.txt"]
    assert find("[^]*", "odd") == ["odd/^y.txt"]
