"""-k expressions: substrings combined with and / or / not / parentheses."""

import unittest

from support import pyrun_testing

NAMES = ["test_read_offset", "test_files.py", "test_files"]


def matches(expr, names=NAMES):
    return pyrun_testing.keyword_matcher(expr)(names)


class KeywordTest(unittest.TestCase):
    def test_no_expression_matches_everything(self):
        self.assertTrue(matches(None))
        self.assertTrue(matches("   "))

    def test_a_word_is_a_case_insensitive_substring_of_any_name(self):
        self.assertTrue(matches("OFFSET"))
        self.assertTrue(matches("files.py"))
        self.assertFalse(matches("grep"))

    def test_and_or_not(self):
        self.assertTrue(matches("read and offset"))
        self.assertFalse(matches("read and grep"))
        self.assertTrue(matches("grep or read"))
        self.assertTrue(matches("not grep"))
        self.assertFalse(matches("not read"))

    def test_and_binds_tighter_than_or(self):
        self.assertTrue(matches("read or grep and sh"))
        self.assertFalse(matches("(read or grep) and sh"))

    def test_not_applies_to_what_follows(self):
        self.assertTrue(matches("not grep and read"))
        self.assertFalse(matches("not (grep or read)"))

    def test_malformed_expressions_raise_keyword_error(self):
        for expr in ("read and", "(read", "read grep", "and", "read)", "not"):
            with self.subTest(expr=expr):
                with self.assertRaises(pyrun_testing.KeywordError) as caught:
                    pyrun_testing.keyword_matcher(expr)
                self.assertIn(repr(expr), str(caught.exception))


if __name__ == "__main__":
    unittest.main()
