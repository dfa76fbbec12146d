"""Rewritten asserts: a failure shows the values involved; semantics unchanged."""

import json
import unittest

from support import SampleTest


class AssertionMessageTest(SampleTest):
    def failure(self, body, prelude=""):
        """The record of a one-test file whose test is `body`; it must fail."""
        lines = "\n".join("    " + line for line in body.strip("\n").split("\n"))
        record = self.run_one("%s\ndef test_it():\n%s\n" % (prelude, lines))
        self.assertEqual(record["outcome"], "failed", record)
        return record

    def text(self, record):
        return "\n".join(record["traceback"])

    def test_equality_shows_both_values(self):
        record = self.failure("total = 6\nassert total == 7")
        self.assertEqual(record["message"], "AssertionError: assert total == 7")
        self.assertEqual(record["assertion"]["evaluated"], "6 == 7")
        self.assertEqual(record["assertion"]["values"], [["total", "6"]])
        self.assertIn("  evaluated: 6 == 7\n  total = 6", self.text(record))

    def test_inequality_and_order_comparisons(self):
        self.assertEqual(self.failure("a = 2\nassert a != 2")["assertion"]["evaluated"], "2 != 2")
        self.assertEqual(self.failure("a, b = 5, 3\nassert a < b")["assertion"]["evaluated"], "5 < 3")

    def test_membership(self):
        record = self.failure("word = 'zz'\nassert word in 'abc'")
        self.assertEqual(record["assertion"]["evaluated"], "'zz' in 'abc'")
        record = self.failure("assert 'b' not in 'abc'")
        self.assertEqual(record["assertion"]["details"], ["found at index 1: 'abc'"])
        record = self.failure("assert 3 not in [1, 2, 3]")
        self.assertEqual(record["assertion"]["details"], ["found at index 2"])

    def test_identity(self):
        record = self.failure("x = None\nassert x is not None")
        self.assertEqual(record["assertion"]["evaluated"], "None is not None")

    def test_calls_show_their_value_and_their_arguments(self):
        record = self.failure("n = 3\nassert is_even(n)", prelude="def is_even(k):\n    return k % 2 == 0\n")
        self.assertEqual(record["assertion"]["values"], [["is_even(n)", "False"], ["n", "3"]])
        self.assertIsNone(record["assertion"]["evaluated"])

    def test_attributes_show_their_value_and_their_object(self):
        record = self.failure("class Result:\n    ok = False\n    def __repr__(self):\n        return 'Result()'\n"
                              "r = Result()\nassert r.ok")
        self.assertEqual(record["assertion"]["values"], [["r.ok", "False"], ["r", "Result()"]])

    def test_method_calls_show_the_object(self):
        record = self.failure("items = [1, 2]\nassert items.count(2) == 2")
        self.assertEqual(record["assertion"]["values"], [["items.count(2)", "1"], ["items", "[1, 2]"]])

    def test_literals_are_not_repeated_as_values(self):
        self.assertEqual(self.failure("assert [1] == [2]")["assertion"]["values"], [])

    def test_and_shows_the_operand_that_failed(self):
        record = self.failure("x, y = 1, 2\nassert x == 1 and y == 3")
        self.assertEqual(record["assertion"]["evaluated"], "2 == 3")

    def test_or_shows_every_operand(self):
        record = self.failure("x, y = 1, 2\nassert x == 0 or y == 0")
        self.assertEqual(record["assertion"]["evaluated"], "1 == 0 or 2 == 0")

    def test_not_shows_its_operand(self):
        self.assertEqual(self.failure("xs = [1]\nassert not xs")["assertion"]["evaluated"], "not [1]")

    def test_a_chain_shows_the_pair_that_failed(self):
        record = self.failure("a, b, c = 1, 5, 3\nassert a < b < c")
        self.assertEqual(record["assertion"]["evaluated"], "5 < 3")

    def test_the_message_comes_first_and_is_kept(self):
        record = self.failure("assert 1 == 2, 'numbers differ'")
        self.assertEqual(record["message"], "AssertionError: numbers differ")
        self.assertEqual(record["assertion"]["message"], "numbers differ")
        self.assertIn("AssertionError: numbers differ\nassert 1 == 2\n  evaluated: 1 == 2", self.text(record))

    def test_lists_show_the_first_difference(self):
        details = self.failure("assert [1, 2, 3] == [1, 4, 3]")["assertion"]["details"]
        self.assertEqual(details, ["first difference at index 1: 2 != 4"])
        details = self.failure("assert [1, 2, 3] == [1, 2]")["assertion"]["details"]
        self.assertEqual(details, ["left has 1 more item, first: 3"])

    def test_dicts_show_missing_keys_and_different_values(self):
        details = self.failure("assert {'a': 1, 'b': 2} == {'a': 1, 'b': 3, 'c': 4}")["assertion"]["details"]
        self.assertEqual(details, ["keys only in right: 'c'", "at key 'b': 2 != 3"])

    def test_sets_show_what_is_only_on_each_side(self):
        details = self.failure("assert {1, 2} == {2, 3}")["assertion"]["details"]
        self.assertEqual(details, ["only in left: {1}", "only in right: {3}"])

    def test_multiline_text_shows_a_diff(self):
        details = self.failure("assert 'a\\nb\\nc\\n' == 'a\\nB\\nc\\n'")["assertion"]["details"]
        self.assertEqual(details[0], "text differs (- left, + right):")
        self.assertIn("-b", details)
        self.assertIn("+B", details)

    def test_one_line_text_shows_where_it_differs(self):
        details = self.failure("assert 'hello world' == 'hello there'")["assertion"]["details"]
        self.assertEqual(details, ["strings differ at index 6: 'world' != 'there'"])

    def test_a_repr_that_raises_does_not_hide_the_failure(self):
        record = self.failure("class Odd:\n    def __repr__(self):\n        raise RuntimeError('no')\n"
                              "assert Odd() == 1")
        self.assertIn("<repr of Odd failed: no>", record["assertion"]["evaluated"])

    def test_records_are_strict_json(self):
        record = self.failure("assert {'x': float('nan')} == {}")
        json.dumps(record, allow_nan=False)


class AssertionSemanticsTest(SampleTest):
    def test_passing_asserts_pass(self):
        record = self.run_one("def test_it():\n    assert 1 + 1 == 2\n    assert [1] and not []\n")
        self.assertEqual(record["outcome"], "passed", record)

    def test_each_operand_is_evaluated_once(self):
        record = self.run_one("""
            def test_it():
                numbers = iter([1, 2, 3])
                assert 0 < next(numbers) < 5
                assert next(numbers) == 2
                assert next(numbers) == 4
        """)
        self.assertEqual(record["assertion"]["evaluated"], "3 == 4")

    def test_short_circuits_are_kept(self):
        record = self.run_one("""
            def test_it():
                x = None
                assert x is None or x.missing
                assert x is not None and x.missing
        """)
        self.assertEqual(record["message"], "AssertionError: assert x is not None and x.missing")

    def test_the_message_is_evaluated_only_on_failure(self):
        record = self.run_one("""
            calls = []
            def note():
                calls.append(1)
                return "noted"
            def test_it():
                assert True, note()
                assert calls == [], "the message ran"
        """)
        self.assertEqual(record["outcome"], "passed", record)

    def test_the_test_can_bind_names_with_walrus(self):
        record = self.run_one("def test_it():\n    assert (n := 3) == 3\n    assert n == 3\n")
        self.assertEqual(record["outcome"], "passed", record)

    def test_generators_in_asserts_keep_their_own_scope(self):
        record = self.run_one("def test_it():\n    xs = [1, -1]\n    assert all(x > 0 for x in xs)\n")
        self.assertEqual(record["assertion"]["values"], [["all(x > 0 for x in xs)", "False"]])

    def test_asserts_in_nested_functions_classes_and_async_tests_are_rewritten(self):
        records = self.run_all("""
            def check(value):
                assert value == 1
            def test_nested():
                check(2)
            class TestCase:
                def test_method(self):
                    assert self.value() == 1
                def value(self):
                    return 2
            async def test_async():
                assert 3 == 1
        """)
        self.assertEqual(records["test_nested"]["assertion"]["evaluated"], "2 == 1")
        self.assertEqual(records["test_method"]["assertion"]["evaluated"], "2 == 1")
        self.assertEqual(records["test_async"]["assertion"]["evaluated"], "3 == 1")

    def test_asserts_in_every_kind_of_block_are_rewritten(self):
        records = self.run_all("""
            import contextlib

            def test_for():
                for i in [1]:
                    assert i == 0

            def test_else():
                if False:
                    pass
                else:
                    assert 1 == 0

            def test_while_with():
                while True:
                    with contextlib.suppress(KeyError):
                        assert 2 == 0

            def test_except():
                try:
                    raise ValueError
                except ValueError:
                    assert 3 == 0

            def test_finally():
                try:
                    pass
                finally:
                    assert 4 == 0
        """)
        evaluated = [r["assertion"]["evaluated"] for r in records.values()]
        self.assertEqual(evaluated, ["1 == 0", "1 == 0", "2 == 0", "3 == 0", "4 == 0"])

    def test_asserts_at_module_level_are_rewritten(self):
        report = self.collect("limit = 3\nassert limit > 5\n")
        self.assertEqual(report["error"]["ename"], "AssertionError")
        self.assertIn("  evaluated: 3 > 5", report["error"]["traceback"])


if __name__ == "__main__":
    unittest.main()
