"""The built-in SQL grammar (grammars/sql.lark): Spider-style queries parse, broken ones do not,
and every terminal is a plain regular expression the engine can compile to a DFA."""
from __future__ import annotations

import functools
from pathlib import Path

import interegular
import lark
import pytest

GRAMMAR_PATH = Path(__file__).resolve().parent.parent / "grammars" / "sql.lark"


@functools.lru_cache(maxsize=None)
def parser(strict: bool = False) -> lark.Lark:
    return lark.Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), parser="lalr", lexer="contextual", strict=strict)


# Written in the style of Spider's gold queries (SQLite dialect, T1/T2 aliases, double-quoted
# string literals), plus the constructs text-to-SQL models commonly produce.
VALID = [
    # simple selects and aggregates
    "SELECT count(*) FROM singer",
    "SELECT name FROM singer WHERE age > 20",
    "SELECT name ,  country ,  age FROM singer ORDER BY age DESC",
    "SELECT avg(age) ,  min(age) ,  max(age) FROM singer WHERE country  =  'France'",
    "SELECT DISTINCT country FROM singer WHERE age  >  20",
    "SELECT count(DISTINCT country) FROM singer",
    "SELECT sum(budget_in_billions) ,  avg(num_employees) FROM department",
    "SELECT * FROM stadium",
    "SELECT T1.* FROM stadium AS T1",
    "select name from singer where age > 20;",
    "SELECT song_name ,  song_release_year FROM singer ORDER BY age LIMIT 1",
    "SELECT max(capacity), average FROM stadium",
    "SELECT name FROM stadium WHERE capacity  >  (SELECT avg(capacity) FROM stadium)",
    "SELECT count(*) FROM head WHERE age  >  56",
    "SELECT name ,  born_state ,  age FROM head ORDER BY age",
    # joins
    "SELECT T2.name FROM concert AS T1 JOIN stadium AS T2 ON T1.stadium_id = T2.stadium_id "
    "GROUP BY T1.stadium_id ORDER BY count(*) DESC LIMIT 1",
    "SELECT T2.name ,  count(*) FROM concert AS T1 JOIN stadium AS T2 ON T1.stadium_id  =  T2.stadium_id "
    "GROUP BY T1.stadium_id",
    "SELECT T3.name FROM singer_in_concert AS T1 JOIN singer AS T2 ON T1.singer_id = T2.singer_id "
    "JOIN concert AS T3 ON T1.concert_id = T3.concert_id WHERE T3.year = 2014",
    "SELECT T1.name FROM student AS T1 INNER JOIN has_pet AS T2 ON T1.stuid = T2.stuid",
    "SELECT s.name, c.title FROM students s LEFT OUTER JOIN courses c ON s.course_id = c.id",
    "SELECT a.x FROM a LEFT JOIN b ON a.id = b.id RIGHT JOIN c ON b.id = c.id FULL OUTER JOIN d ON c.id = d.id",
    "SELECT * FROM a CROSS JOIN b",
    "SELECT T1.name FROM people AS T1, candidate AS T2 WHERE T1.people_id = T2.people_id",
    "SELECT name FROM a JOIN b USING (id)",
    "SELECT * FROM (a JOIN b ON a.id = b.id) NATURAL JOIN c",
    # WHERE predicates
    "SELECT name FROM singer WHERE singer_id NOT IN (SELECT singer_id FROM singer_in_concert)",
    "SELECT name FROM country WHERE code IN ('USA', 'FRA', \"GBR\")",
    "SELECT name FROM employee WHERE name LIKE '%a%'",
    "SELECT title FROM film WHERE title NOT LIKE \"%Love%\" AND rating = 'PG'",
    "SELECT name FROM stadium WHERE capacity BETWEEN 5000 AND 10000",
    "SELECT name FROM stadium WHERE capacity NOT BETWEEN 5000 AND 10000 AND highest > 100 OR lowest < 10",
    "SELECT name FROM people WHERE nationality != 'Russia' AND age <> 30 AND height >= 1.85 AND weight <= 80.5",
    "SELECT name FROM people WHERE email IS NULL OR phone IS NOT NULL",
    "SELECT name FROM customers AS T1 WHERE EXISTS (SELECT * FROM orders AS T2 WHERE T2.customer_id = T1.id)",
    "SELECT name FROM customers WHERE NOT EXISTS (SELECT 1 FROM orders WHERE orders.cid = customers.id)",
    "SELECT name FROM t WHERE NOT (a = 1 OR b = 2)",
    "SELECT name FROM instructor WHERE salary  >  (SELECT max(salary) FROM instructor WHERE dept_name  =  'Biology')",
    "SELECT name FROM instructor WHERE salary > ALL (SELECT salary FROM instructor WHERE dept_name = 'Biology')",
    "SELECT name FROM singer WHERE name = 'O''Brien'",
    # GROUP BY / HAVING / ORDER BY / LIMIT
    "SELECT country ,  count(*) FROM singer GROUP BY country",
    "SELECT T1.name FROM singer AS T1 JOIN song AS T2 ON T1.id = T2.singer_id GROUP BY T1.name HAVING count(*) > 1",
    "SELECT dept_name FROM instructor GROUP BY dept_name HAVING avg(salary)  >  (SELECT avg(salary) FROM instructor)",
    "SELECT name FROM people ORDER BY height DESC, weight ASC, name",
    "SELECT name FROM people ORDER BY height DESC LIMIT 5 OFFSET 10",
    "SELECT name FROM people LIMIT 10, 5",
    "SELECT major ,  count(*) FROM student GROUP BY major ORDER BY count(*) DESC LIMIT 1",
    # set operations
    "SELECT name FROM singer WHERE age > 40 INTERSECT SELECT name FROM singer WHERE age < 30",
    "SELECT country FROM singer WHERE age > 40 EXCEPT SELECT country FROM singer WHERE age < 30",
    "SELECT name FROM teacher UNION SELECT name FROM student",
    "SELECT name FROM teacher UNION ALL SELECT name FROM student ORDER BY name LIMIT 3",
    "SELECT T2.name FROM a AS T1 JOIN b AS T2 ON T1.id = T2.id WHERE T1.x = 'y' "
    "INTERSECT SELECT T2.name FROM a AS T1 JOIN b AS T2 ON T1.id = T2.id WHERE T1.x = 'z'",
    "SELECT id FROM a UNION SELECT id FROM b EXCEPT SELECT id FROM c",
    "(SELECT name FROM a ORDER BY x LIMIT 1) UNION (SELECT name FROM b ORDER BY y LIMIT 1)",
    "SELECT name FROM t WHERE id IN (SELECT id FROM a UNION SELECT id FROM b)",
    # subqueries in FROM, nesting
    "SELECT avg(cnt) FROM (SELECT count(*) AS cnt FROM orders GROUP BY customer_id)",
    "SELECT t.name FROM (SELECT name, age FROM singer WHERE age > 20) AS t WHERE t.age < 50",
    "SELECT name FROM department WHERE dept_id IN (SELECT dept_id FROM employee WHERE salary > "
    "(SELECT avg(salary) FROM employee WHERE dept_id IN (SELECT dept_id FROM department WHERE budget > 1000)))",
    # expressions, CASE, CAST, functions
    "SELECT name, salary * 1.1 + bonus - 100 / 2 % 7 FROM employee",
    "SELECT -price, -(price - discount) AS net FROM product",
    "SELECT CASE WHEN age > 60 THEN 'senior' WHEN age > 18 THEN 'adult' ELSE 'minor' END AS grp FROM people",
    "SELECT CASE status WHEN 1 THEN 'on' ELSE 'off' END FROM devices",
    "SELECT sum(CASE WHEN gender = 'F' THEN 1 ELSE 0 END) * 100.0 / count(*) FROM student",
    "SELECT CAST(price AS INTEGER), CAST(ratio AS DECIMAL(10, 2)) FROM items",
    "SELECT count(*) cnt, upper(name) AS \"Upper Name\", round(avg(score), 2) FROM results GROUP BY name",
    "SELECT first_name || ' ' || last_name FROM staff",
    "SELECT name, rank() OVER (PARTITION BY dept ORDER BY salary DESC) FROM employee",
    "SELECT strftime('%Y', date_of_birth) FROM people WHERE date_of_birth > \"1990-01-01\"",
    "SELECT count(*) FROM flights WHERE price > 1e3 AND active = TRUE AND deleted = FALSE AND note IS NULL",
    "WITH top AS (SELECT id FROM t ORDER BY score DESC LIMIT 3) SELECT * FROM top",
    # identifiers: quoting, keyword prefixes, keywords where keywords cannot stand
    "SELECT `first name`, [last name] FROM \"My Table\" AS \"m\" WHERE \"m\".\"age\" > 3",
    "SELECT order_id, selection, format, fromage, origin, ascii, descr, byte FROM orders",
    "SELECT T1.order, T1.from FROM t AS T1",
    "SELECT name -- the singer's name\nFROM singer /* all of them */ WHERE age > 20 ;",
    "SELECT\n  name\nFROM\n  singer\nWHERE\n  age > 20\n",
]

INVALID = [
    "",
    "SELECT",
    "SELECT a FROM",
    "SELECT a b c FROM t",
    "SELECT a FROM t WHERE",
    "SELECT (a FROM t",
    "SELECT a FROM t WHERE (a = 1",
    "SELECT a FROM t WHERE a = 1)",
    "SELECT a FROM t WHERE a IN (SELECT b FROM u",
    "SELECT a,, b FROM t",
    "SELECT a FROM t WHERE a = 1 AND",
    "SELECT a FROM t AS",
    "SELECT a FROM t t2 t3",
    "SELECT a FROM t GROUP a",
    "SELECT a FROM t ORDER BY",
    "SELECT a FROM t LIMIT",
    "SELECT a FROM t LIMIT x",
    "SELECT a FROM t WHERE a = = 1",
    "SELECT a FROM t WHERE a BETWEEN 1",
    "SELECT a FROM t UNION",
    "SELECT CASE WHEN a THEN b FROM t",
    "SELECT a FROM t JOIN ON a.x = b.x",
    "SELECT a FROM t WHERE name = 'unterminated",
    "SELECT a FROM t;;",
    "FROM t SELECT a",
    "SELECT count(* FROM t",
    "SELECT a FROM t WHERE a IS 1",
]


@pytest.mark.parametrize("query", VALID)
def test_valid_query_parses(query: str) -> None:
    parser().parse(query)


def test_enough_valid_queries() -> None:
    assert len(VALID) >= 40


@pytest.mark.parametrize("query", INVALID)
def test_invalid_query_rejected(query: str) -> None:
    with pytest.raises(lark.exceptions.UnexpectedInput):
        parser().parse(query)


def test_enough_invalid_queries() -> None:
    assert len(INVALID) >= 10


def test_loads_strict_without_conflicts() -> None:
    # strict=True makes Lark raise on any shift/reduce conflict and on regex collisions.
    parser(strict=True)


def test_terminals_are_plain_regular_expressions() -> None:
    terminals = parser().terminals
    assert terminals
    for terminal in terminals:
        regex = terminal.pattern.to_regexp()
        fsm = interegular.parse_pattern(regex).to_fsm()
        assert not fsm.accepts(""), f"{terminal.name} matches the empty string"
        assert terminal.pattern.min_width > 0, terminal.name


def test_no_common_imports_or_declares() -> None:
    text = GRAMMAR_PATH.read_text(encoding="utf-8")
    assert "%import" not in text
    assert "%declare" not in text


def _tokens(query: str) -> list[tuple[str, str]]:
    return [(t.type, str(t)) for t in parser().parse(query).scan_values(lambda v: isinstance(v, lark.Token))]


def test_keywords_case_insensitive_and_identifiers_with_keyword_prefixes() -> None:
    a = parser().parse("SELECT name FROM singer WHERE age > 20")
    b = parser().parse("select name from singer where age > 20")
    c = parser().parse("SeLeCt name FrOm singer wHeRe age > 20")
    assert a == b == c
    names = [v for t, v in _tokens("SELECT order_id, selection, format FROM orders_table WHERE isbn IN (1)")
             if t == "NAME"]
    assert names == ["order_id", "selection", "format", "orders_table", "isbn"]


def test_keywords_are_identifiers_where_the_keyword_cannot_stand() -> None:
    # Documented limitation of contextual lexing: keywords are reserved only where the parser
    # could accept them, so after SELECT (where FROM cannot stand) `FROM` is a column name and
    # `SELECT FROM t` reads as that column with the implicit alias t.
    assert _tokens("SELECT FROM t") == [("NAME", "FROM"), ("NAME", "t")]
    assert ("NAME", "order") in _tokens("SELECT T1.order FROM t AS T1")


def test_double_quotes_are_strings_in_values_and_identifiers_in_name_positions() -> None:
    tree = parser().parse('SELECT "T1"."name" FROM "singer" AS "T1" WHERE "T1"."country" = "France"')
    strings = list(tree.find_data("string"))
    assert [str(s.children[0]) for s in strings] == ['"France"']
    assert len(list(tree.find_data("column_ref"))) == 2


def test_between_and_binds_tighter_than_logical_and() -> None:
    tree = parser().parse("SELECT a FROM t WHERE x BETWEEN 1 AND 2 AND y = 3")
    (conj,) = tree.find_data("and_")
    assert conj.children[0].data == "between"
    assert conj.children[1].data == "comparison"


def test_engine_lexing_agrees_with_lark() -> None:
    """The engine lexes by longest match (tests/reference.py models it independently of Lark's
    first-match lexer); both must accept and reject the same queries here."""
    reference = pytest.importorskip("reference")
    from syncode.grammar import Grammar

    ref = reference.Reference(Grammar.from_file(GRAMMAR_PATH))
    for query in VALID:
        assert ref.accepts(query.encode("utf-8")), query
    for query in INVALID:
        assert not ref.accepts(query.encode("utf-8")), query
