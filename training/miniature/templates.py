"""The templates: each draws its numbers, names and wording, writes the steps once through ``Work``
(which gives the program and the chain of thought), and returns the question and the answer.

Some templates carry a trap a model's program can fall into while its text reasoning does not, or
the other way round, so that the fallback and the vote have something to decide: counts strictly
between two numbers or inclusive of both, fence posts, boxes needed (rounding up, with ``math``
imported), full sets and leftovers (floor and remainder), percentages, and loops (a wrong update in
a ``while`` loop runs until the sandbox's deadline, a failure the chain of thought then answers).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from potcot.training.miniature.work import CONTAINERS, Quantity, Work

Template = Callable[[Work], tuple[str, Quantity]]


def change_from_bill(w: Work) -> tuple[str, Quantity]:
    person, (item,) = w.people(1)[0], w.items()
    count, price = w.amount((2, 9), (11, 40)), w.amount((2, 12), (13, 60))
    bill = (count * price // 100 + 1) * 100
    question = w.pick([
        f"{person} buys {count} {item} at ${price} each and pays with ${bill}. How much change does {person} get?",
        f"Each of the {item} costs ${price}. {person} buys {count} of them and hands over ${bill}. "
        f"What is the change in dollars?",
    ])  # fmt: skip
    c, p, b = w.given("count", count), w.given("price", price), w.given("money", bill)
    cost = w.calc("total", c, "*", p, f"The {item} cost")
    return question, w.calc("left", b, "-", cost, "The change is")


def two_kinds(w: Work) -> tuple[str, Quantity]:
    person, (first, second) = w.people(1)[0], w.items(2)
    n1, p1, n2, p2 = w.amount((2, 9), (12, 30)), w.amount((2, 9), (11, 25)), w.rng.randint(2, 9), w.rng.randint(2, 15)
    question = w.pick([
        f"{person} buys {n1} {first} for ${p1} each and {n2} {second} for ${p2} each. How much does {person} spend?",
        f"At the market, {first} cost ${p1} each and {second} cost ${p2} each. {person} gets {n1} {first} and "
        f"{n2} {second}. What is the total cost?",
    ])  # fmt: skip
    a, b = w.given("count", n1), w.given("price", p1)
    c, d = w.given("count", n2), w.given("price", p2)
    cost1 = w.calc("total", a, "*", b, f"The {first} cost")
    cost2 = w.calc("total", c, "*", d, f"The {second} cost")
    return question, w.calc("total", cost1, "+", cost2, "Together")


def share_packs(w: Work) -> tuple[str, Quantity]:
    person, (item,), container = w.people(1)[0], w.items(), w.pick(CONTAINERS)
    friends, each = w.rng.randint(2, 9), w.amount((2, 9), (10, 60))
    packs = w.rng.randint(2, 9)
    while (packs * each) % friends:
        packs += 1
    question = w.pick([
        f"{person} has {packs} {container} with {each} {item} in each and shares them equally among {friends} "
        f"friends. How many {item} does each friend get?",
        f"There are {packs} {container} of {item}, {each} in every one. {person} splits all the {item} evenly "
        f"between {friends} friends. How many does each friend receive?",
    ])  # fmt: skip
    p, e, f = w.given("count", packs), w.given("per", each), w.given("count", friends)
    total = w.calc("total", p, "*", e, f"All the {item}")
    return question, w.calc("per", total, "/", f, "Each friend gets")


def gives_away(w: Work) -> tuple[str, Quantity]:
    person, first, second = w.people(3)
    (item,) = w.items()
    start = w.amount((30, 99), (100, 900))
    g1, g2 = w.rng.randint(1, start // 3), w.rng.randint(1, start // 3)
    question = w.pick([
        f"{person} has {start} {item}. {person} gives {g1} to {first} and {g2} to {second}. "
        f"How many {item} are left?",
        f"After giving {g1} {item} to {first} and {g2} to {second}, how many of the {start} {item} "
        f"does {person} still have?",
    ])  # fmt: skip
    s, a, b = w.given("count", start), w.given("count", g1), w.given("count", g2)
    after = w.calc("left", s, "-", a, f"After {first}")
    return question, w.calc("left", after, "-", b, f"After {second}")


def weekly_savings(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    start, weekly, weeks = w.rng.randint(5, 200), w.amount((2, 12), (13, 75)), w.amount((2, 9), (10, 52))
    question = w.pick([
        f"{person} has ${start} and saves ${weekly} every week. How much money will {person} have after "
        f"{weeks} weeks?",
        f"Starting with ${start}, {person} puts ${weekly} a week into a jar. How many dollars are in the jar "
        f"after {weeks} weeks?",
    ])  # fmt: skip
    s, r, n = w.given("money", start), w.given("rate", weekly), w.given("time", weeks)
    saved = w.calc("total", r, "*", n, "Saved in those weeks")
    return question, w.calc("total", s, "+", saved, "In all")


def pages_left(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    per_day, days = w.amount((5, 12), (13, 45)), w.rng.randint(2, 9)
    pages = per_day * days + w.rng.randint(1, 400)
    question = w.pick([
        f"A book has {pages} pages. {person} reads {per_day} pages a day for {days} days. How many pages "
        f"are left to read?",
        f"{person} reads {per_day} pages every day. After {days} days, how many of the book's {pages} pages "
        f"remain unread?",
    ])  # fmt: skip
    p, r, d = w.given("count", pages), w.given("rate", per_day), w.given("time", days)
    read = w.calc("total", r, "*", d, "Pages read")
    return question, w.calc("left", p, "-", read, "Pages left")


def two_legs(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    v1, t1, v2, t2 = w.amount((20, 90), (100, 300)), w.rng.randint(2, 9), w.rng.randint(20, 90), w.rng.randint(2, 6)
    question = w.pick([
        f"{person} drives at {v1} km per hour for {t1} hours and then at {v2} km per hour for {t2} hours. "
        f"How many kilometers does {person} drive?",
        f"A train goes {v1} km each hour for {t1} hours, then {v2} km each hour for {t2} hours. What distance "
        f"does it cover in km?",
    ])  # fmt: skip
    a, b, c, d = w.given("rate", v1), w.given("time", t1), w.given("rate", v2), w.given("time", t2)
    first = w.calc("length", a, "*", b, "First part")
    second = w.calc("length", c, "*", d, "Second part")
    return question, w.calc("total", first, "+", second, "Distance")


def boxes_needed(w: Work) -> tuple[str, Quantity]:
    (item,), container = w.items(), w.pick(CONTAINERS)
    per, total = w.rng.randint(3, 12), w.amount((20, 99), (100, 999))
    question = w.pick([
        f"{total} {item} are packed into {container} that hold {per} each. How many {container} are needed "
        f"to pack all of them?",
        f"Each of the {container} holds at most {per} {item}. What is the smallest number of {container} "
        f"that can hold {total} {item}?",
    ])  # fmt: skip
    t, p = w.given("count", total), w.given("per", per)
    return question, w.calc("count", t, "ceil", p, f"Filling {container} of {per}")


def full_sets(w: Work) -> tuple[str, Quantity]:
    person, (item,) = w.people(1)[0], w.items()
    per, total = w.rng.randint(3, 12), w.amount((20, 99), (100, 999))
    question = w.pick([
        f"{person} has {total} {item} and makes sets of {per}. How many complete sets can {person} make?",
        f"How many full groups of {per} can be made from {total} {item}?",
    ])  # fmt: skip
    t, p = w.given("count", total), w.given("per", per)
    return question, w.calc("count", t, "//", p, f"Groups of {per}")


def leftovers(w: Work) -> tuple[str, Quantity]:
    person, (item,) = w.people(1)[0], w.items()
    kids, total = w.rng.randint(3, 12), w.amount((20, 99), (100, 999))
    question = w.pick([
        f"{person} shares {total} {item} equally among {kids} children, giving each as many as possible. "
        f"How many {item} are left over?",
        f"{total} {item} are split evenly between {kids} people and the rest is kept. How many are kept?",
    ])  # fmt: skip
    t, k = w.given("count", total), w.given("count", kids)
    return question, w.calc("left", t, "%", k, "Sharing")


def discount(w: Work) -> tuple[str, Quantity]:
    (item,) = w.items()
    price, pct = w.amount((20, 99), (100, 800)), w.pick([5, 10, 15, 20, 25, 30, 40, 50])
    question = w.pick([
        f"A box of {item} costs ${price}. It is on sale for {pct}% off. What is the sale price in dollars?",
        f"The {item} are marked down by {pct}% from ${price}. How much do they cost now?",
    ])  # fmt: skip
    p, r = w.given("price", price), w.given("percent", pct)
    off = w.calc("money", p, "pct", r, "The discount")
    return question, w.calc("price", p, "-", off, "Sale price")


def raise_pay(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    pay, pct = w.amount((200, 999), (1000, 5000)), w.pick([2, 4, 5, 8, 10, 12, 15, 20])
    question = w.pick([
        f"{person} earns ${pay} a month and gets a raise of {pct}%. What is the new monthly pay?",
        f"A monthly wage of ${pay} goes up by {pct} percent. How much is it after the increase?",
    ])  # fmt: skip
    p, r = w.given("money", pay), w.given("percent", pct)
    extra = w.calc("money", p, "pct", r, "The raise")
    return question, w.calc("total", p, "+", extra, "New pay")


def strictly_between(w: Work) -> tuple[str, Quantity]:
    low = w.amount((1, 50), (100, 900))
    high = low + w.amount((3, 40), (50, 500))
    question = w.pick([
        f"How many whole numbers are strictly between {low} and {high}?",
        f"Count the integers greater than {low} and less than {high}.",
        f"How many whole numbers lie between {low} and {high}, not counting {low} and {high}?",
    ])  # fmt: skip
    a, b = w.given("count", low), w.given("count", high)
    gap = w.calc("count", b, "-", a, "The difference")
    w.say(f"The numbers from {low} + 1 up to {high} - 1 are one fewer than the difference.")
    return question, w.calc("count", gap, "-", 1, "Strictly between")


def inclusive_pages(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    first = w.amount((1, 60), (100, 600))
    last = first + w.amount((3, 40), (50, 300))
    question = w.pick([
        f"{person} reads from page {first} to page {last}, including both. How many pages is that?",
        f"A chapter starts on page {first} and ends on page {last}. How many pages does it have, counting "
        f"the first and the last?",
    ])  # fmt: skip
    a, b = w.given("count", first), w.given("count", last)
    gap = w.calc("count", b, "-", a, "The difference")
    w.say("Both end pages count, so add one.")
    return question, w.calc("count", gap, "+", 1, "Pages")


def fence_posts(w: Work) -> tuple[str, Quantity]:
    gap = w.rng.randint(2, 25)
    length = gap * w.amount((2, 12), (13, 80))
    question = w.pick([
        f"A straight fence is {length} meters long with a post every {gap} meters, including one at each "
        f"end. How many posts are there?",
        f"Posts stand {gap} meters apart along a {length}-meter path, starting and ending with a post. "
        f"How many posts are there?",
        f"Lamps are placed every {gap} m along a {length} m street, with a lamp at both ends. How many lamps "
        f"are there?",
    ])  # fmt: skip
    whole, g = w.given("length", length), w.given("length", gap)
    spaces = w.calc("count", whole, "/", g, "Gaps between posts")
    w.say("There is one more post than gaps.")
    return question, w.calc("count", spaces, "+", 1, "Posts")


def future_age(w: Work) -> tuple[str, Quantity]:
    older, younger = w.people(2)
    age, gap, years = w.rng.randint(3, 40), w.rng.randint(2, 30), w.rng.randint(2, 20)
    question = w.pick([
        f"{older} is {gap} years older than {younger}. {younger} is {age}. How old will {older} be in "
        f"{years} years?",
        f"{younger} is {age} years old, and {older} is {gap} years older. What will {older}'s age be "
        f"{years} years from now?",
    ])  # fmt: skip
    a, g, y = w.given("count", age), w.given("count", gap), w.given("time", years)
    now = w.calc("count", a, "+", g, f"{older} now")
    return question, w.calc("total", now, "+", y, "Later")


def times_as_many(w: Work) -> tuple[str, Quantity]:
    a_name, b_name, c_name = w.people(3)
    (item,) = w.items()
    first, factor = w.amount((3, 12), (13, 95)), w.rng.randint(2, 6)
    fewer = w.rng.randint(1, first * factor - 1)
    question = w.pick([
        f"{a_name} has {first} {item}. {b_name} has {factor} times as many, and {c_name} has {fewer} fewer "
        f"than {b_name}. How many {item} do they have altogether?",
        f"{b_name} owns {factor} times as many {item} as {a_name}, who owns {first}. {c_name} owns {fewer} "
        f"fewer than {b_name}. What is the total for the three of them?",
    ])  # fmt: skip
    a, k, f = w.given("count", first), w.given("rate", factor), w.given("count", fewer)
    b = w.calc("count", a, "*", k, b_name)
    c = w.calc("count", b, "-", f, c_name)
    both = w.calc("total", a, "+", b, f"{a_name} and {b_name}")
    return question, w.calc("total", both, "+", c, "All three")


def tiled_floor(w: Work) -> tuple[str, Quantity]:
    length, width, cost = w.rng.randint(3, 25), w.rng.randint(2, 15), w.amount((2, 9), (10, 40))
    question = w.pick([
        f"A floor is {length} m by {width} m. Tiles cost ${cost} per square meter. How much does it cost "
        f"to tile the floor?",
        f"Covering a {length} m by {width} m room costs ${cost} for each square meter. What is the total cost?",
    ])  # fmt: skip
    x, y, c = w.given("length", length), w.given("length", width), w.given("price", cost)
    area = w.calc("total", x, "*", y, "Area")
    return question, w.calc("total", area, "*", c, "Cost")


def fence_cost(w: Work) -> tuple[str, Quantity]:
    length, width, cost = w.amount((3, 12), (13, 90)), w.rng.randint(2, 40), w.rng.randint(2, 12)
    question = w.pick([
        f"A rectangular garden is {length} m long and {width} m wide. Fencing costs ${cost} per meter. "
        f"How much does fencing the whole garden cost?",
        f"How much does it cost to put a fence around a {length} m by {width} m yard at ${cost} a meter?",
    ])  # fmt: skip
    x, y, c = w.given("length", length), w.given("length", width), w.given("price", cost)
    half = w.calc("length", x, "+", y, "Length plus width")
    around = w.calc("length", half, "*", 2, "Perimeter")
    return question, w.calc("total", around, "*", c, "Cost")


def wages(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    hours, days, rate = w.rng.randint(2, 10), w.amount((2, 7), (10, 30)), w.amount((8, 12), (13, 45))
    question = w.pick([
        f"{person} works {hours} hours a day for {days} days and is paid ${rate} an hour. How much does "
        f"{person} earn?",
        f"At ${rate} per hour, what does {person} make working {hours} hours on each of {days} days?",
    ])  # fmt: skip
    h, d, r = w.given("time", hours), w.given("time", days), w.given("rate", rate)
    total_hours = w.calc("time", h, "*", d, "Hours worked")
    return question, w.calc("money", total_hours, "*", r, "Pay")


def overtime(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    base_hours, rate = w.pick([35, 38, 40]), w.rng.randint(8, 30)
    hours = base_hours + w.rng.randint(1, 15)
    question = w.pick([
        f"{person} is paid ${rate} an hour for the first {base_hours} hours of a week and twice that for "
        f"every hour after. How much does {person} earn for {hours} hours?",
        f"For {hours} hours of work, {person} gets ${rate} per hour up to {base_hours} hours and double pay "
        f"beyond. What is the week's pay?",
    ])  # fmt: skip
    t, b, r = w.given("time", hours), w.given("time", base_hours), w.given("rate", rate)
    regular = w.calc("money", b, "*", r, "Regular pay")
    extra_hours = w.calc("time", t, "-", b, "Extra hours")
    double = w.calc("rate", r, "*", 2, "Double rate")
    extra = w.calc("money", extra_hours, "*", double, "Extra pay")
    return question, w.calc("total", regular, "+", extra, "Total pay")


def recipe(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    cups, serves, factor = w.rng.randint(2, 9), w.rng.randint(2, 8), w.amount((2, 9), (10, 40))
    question = w.pick([
        f"A recipe uses {cups} cups of flour for {serves} servings. How many cups does {person} need for "
        f"{serves * factor} servings?",
        f"{person} wants to make {serves * factor} servings of a dish that takes {cups} cups of rice per "
        f"{serves} servings. How many cups of rice are needed?",
    ])  # fmt: skip
    c, s, n = w.given("count", cups), w.given("count", serves), w.given("count", serves * factor)
    batches = w.calc("count", n, "/", s, "Batches")
    return question, w.calc("total", batches, "*", c, "Cups")


def buses(w: Work) -> tuple[str, Quantity]:
    seats, people = w.rng.randint(10, 60), w.amount((30, 99), (100, 900))
    question = w.pick([
        f"{people} students go on a trip in buses that seat {seats} each. How many buses are needed?",
        f"A van carries {seats} people. How many trips does it take to carry {people} people?",
    ])  # fmt: skip
    p, s = w.given("count", people), w.given("per", seats)
    return question, w.calc("count", p, "ceil", s, "Buses")


def episodes(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    count, length, pause = w.rng.randint(2, 9), w.amount((20, 60), (61, 150), 0.2), w.rng.randint(3, 15)
    question = w.pick([
        f"{person} watches {count} episodes of {length} minutes each with a {pause}-minute break between "
        f"consecutive episodes. How many minutes does it take?",
        f"A marathon of {count} films, each {length} minutes, has a {pause}-minute pause between one film and "
        f"the next. How long is it in minutes?",
    ])  # fmt: skip
    n, t, p = w.given("count", count), w.given("time", length), w.given("time", pause)
    watching = w.calc("time", n, "*", t, "Watching")
    breaks = w.calc("count", n, "-", 1, "Breaks, one fewer than episodes")
    resting = w.calc("time", breaks, "*", p, "Break time")
    return question, w.calc("total", watching, "+", resting, "Total")


def profit(w: Work) -> tuple[str, Quantity]:
    person, (item,) = w.people(1)[0], w.items()
    cost, margin, sold = w.rng.randint(2, 30), w.rng.randint(1, 20), w.amount((2, 9), (10, 400))
    question = w.pick([
        f"{person} makes {item} for ${cost} each and sells them for ${cost + margin} each. What is the profit "
        f"on {sold} {item}?",
        f"Each of the {item} costs ${cost} to make and sells for ${cost + margin}. How much profit do {sold} "
        f"of them bring?",
    ])  # fmt: skip
    c, p, n = w.given("price", cost), w.given("price", cost + margin), w.given("count", sold)
    each = w.calc("money", p, "-", c, "Profit on one")
    return question, w.calc("total", each, "*", n, "Profit")


def average_score(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    scores = [w.rng.randint(40, 100) for _ in range(3)]
    scores[2] += (-sum(scores)) % 3 if scores[2] <= 97 else -(sum(scores) % 3)
    question = w.pick([
        f"{person} scored {scores[0]}, {scores[1]} and {scores[2]} on three tests. What is the average score?",
        f"What is the mean of {person}'s three results: {scores[0]}, {scores[1]} and {scores[2]}?",
    ])  # fmt: skip
    a, b, c = (w.given("count", score) for score in scores)
    two = w.calc("total", a, "+", b, "First two")
    three = w.calc("total", two, "+", c, "All three")
    return question, w.calc("per", three, "/", 3, "Average")


def doubling(w: Work) -> tuple[str, Quantity]:
    start, hours = w.amount((2, 12), (13, 400)), w.rng.randint(2, 6)
    question = w.pick([
        f"A colony of {start} bacteria doubles every hour. How many bacteria are there after {hours} hours?",
        f"A number of followers starts at {start} and doubles each week. What is it after {hours} weeks?",
        f"A pile of {start} leaves is twice as large each day as the day before. How many leaves are in it "
        f"after {hours} days?",
    ])  # fmt: skip
    s, n = w.given("count", start), w.given("time", hours)
    current = w.name("count")
    w.code(f"{current} = {s.name}", f"for _ in range({n.name}):", f"    {current} = {current} * 2")
    value = s.value
    for step in range(1, hours + 1):
        value = w.worked(value, "*", 2, f"After {step}")
    return question, Quantity(current, value)


def savings_target(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    start, weekly = w.rng.randint(0, 60), w.rng.randint(3, 25)
    target = start + w.amount((20, 99), (100, 600))
    question = w.pick([
        f"{person} has ${start} and saves ${weekly} each week. After how many weeks will {person} have at "
        f"least ${target}?",
        f"Starting from ${start} and adding ${weekly} a week, how many weeks until the savings reach ${target} "
        f"or more?",
    ])  # fmt: skip
    s, r, t = w.given("money", start), w.given("rate", weekly), w.given("money", target)
    weeks, money = w.name("count"), w.name("money")
    w.code(f"{weeks} = 0", f"{money} = {s.name}", f"while {money} < {t.name}:")
    w.code(f"    {money} = {money} + {r.name}", f"    {weeks} = {weeks} + 1")
    gap = w.worked(t, "-", s, "Still needed")
    return question, Quantity(weeks, w.worked(gap, "ceil", r, "Weeks"))


def halving(w: Work) -> tuple[str, Quantity]:
    halvings, limit = w.rng.randint(2, 6), w.rng.randint(3, 400)
    start = limit * 2**halvings
    question = w.pick([
        f"A tank holds {start} liters and loses half of its water each day. After how many days does it hold "
        f"{limit} liters or less?",
        f"A price of ${start} is cut in half every month. How many months until it is at most ${limit}?",
        f"A heap of {start} grams of salt halves every hour. After how many hours is it {limit} grams or less?",
    ])  # fmt: skip
    s, m = w.given("count", start), w.given("count", limit)
    days, level = w.name("time"), w.name("count")
    w.code(f"{days} = 0", f"{level} = {s.name}", f"while {level} > {m.name}:")
    w.code(f"    {level} = {level} / 2", f"    {days} = {days} + 1")
    value = s.value
    for step in range(1, halvings + 1):
        value = w.worked(value, "/", 2, f"After {step}")
    w.say(f"It reaches {limit} after {halvings} halvings.")
    return question, Quantity(days, Fraction(halvings))


def dozens(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    boxes = w.amount((2, 9), (10, 80))
    used = w.rng.randint(1, boxes * 12 - 1)
    question = w.pick([
        f"{person} buys {boxes} dozen eggs and uses {used} of them. How many eggs are left?",
        f"A bakery has {boxes} dozen rolls and sells {used}. How many rolls remain?",
    ])  # fmt: skip
    b, u = w.given("count", boxes), w.given("count", used)
    total = w.calc("total", b, "*", 12, "A dozen is 12, so in all")
    return question, w.calc("left", total, "-", u, "Left")


def task_minutes(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    hours, minutes, times = w.rng.randint(1, 5), w.rng.randint(5, 55), w.amount((2, 9), (10, 30))
    question = w.pick([
        f"A job takes {person} {hours} hours and {minutes} minutes. How many minutes do {times} such jobs take?",
        f"{person} practises for {hours} h {minutes} min on each of {times} days. How many minutes is that in all?",
    ])  # fmt: skip
    h, m, n = w.given("time", hours), w.given("time", minutes), w.given("count", times)
    in_minutes = w.calc("time", h, "*", 60, "Hours in minutes")
    once = w.calc("time", in_minutes, "+", m, "One job")
    return question, w.calc("total", once, "*", n, "All of them")


def ratio_share(w: Work) -> tuple[str, Quantity]:
    first, second = w.people(2)
    a, b = w.rng.randint(1, 9), w.rng.randint(1, 9)
    total = (a + b) * w.amount((2, 12), (13, 150))
    question = w.pick([
        f"{first} and {second} share ${total} in the ratio {a}:{b}. How much does {first} get?",
        f"${total} is split between {first} and {second} so that their shares are in the ratio {a} to {b}. "
        f"What is {first}'s share?",
    ])  # fmt: skip
    t, x, y = w.given("money", total), w.given("count", a), w.given("count", b)
    parts = w.calc("count", x, "+", y, "Parts")
    one = w.calc("per", t, "/", parts, "One part")
    return question, w.calc("money", one, "*", x, f"{first}'s parts")


def growing_reading(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    first, more, days = w.rng.randint(3, 30), w.rng.randint(1, 9), w.rng.randint(3, 6)
    question = w.pick([
        f"{person} reads {first} pages on the first day and {more} more pages each day than the day before. "
        f"How many pages has {person} read after {days} days?",
        f"On day one {person} walks {first} km, and each later day {more} km more than the previous day. "
        f"How many km in {days} days?",
    ])  # fmt: skip
    a, d, n = w.given("count", first), w.given("rate", more), w.given("time", days)
    total, today = w.name("total"), w.name("count")
    w.code(f"{total} = 0", f"{today} = {a.name}", f"for _ in range({n.name}):")
    w.code(f"    {total} = {total} + {today}", f"    {today} = {today} + {d.name}")
    value, day_value = a.value, a.value
    for day in range(2, days + 1):
        day_value = w.worked(day_value, "+", d, f"Day {day}")
        value = w.worked(value, "+", day_value, f"Total after day {day}")
    return question, Quantity(total, value)


def tip(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    bill, pct = w.amount((20, 99), (100, 400)), w.pick([10, 15, 18, 20, 25])
    question = w.pick([
        f"{person}'s dinner costs ${bill}, and {person} adds a {pct}% tip. What is the total paid?",
        f"A ${bill} bill plus a tip of {pct} percent comes to how many dollars?",
    ])  # fmt: skip
    b, r = w.given("money", bill), w.given("percent", pct)
    extra = w.calc("money", b, "pct", r, "The tip")
    return question, w.calc("total", b, "+", extra, "Total")


def classroom(w: Work) -> tuple[str, Quantity]:
    rows, cols = w.rng.randint(3, 12), w.amount((3, 12), (13, 40))
    empty = w.rng.randint(1, rows * cols - 1)
    question = w.pick([
        f"A hall has {rows} rows of {cols} chairs. {empty} chairs are empty. How many people are seated?",
        f"In an orchard there are {rows} rows with {cols} trees in each; {empty} of the trees are bare. How many "
        f"trees have fruit?",
    ])  # fmt: skip
    r, c, e = w.given("count", rows), w.given("count", cols), w.given("count", empty)
    seats = w.calc("total", r, "*", c, "In all")
    return question, w.calc("left", seats, "-", e, "Taken")


def cost_per_person(w: Work) -> tuple[str, Quantity]:
    people, food = w.rng.randint(2, 12), w.rng.randint(3, 30)
    rent = people * w.amount((5, 40), (41, 200))
    question = w.pick([
        f"{people} friends rent a cabin for ${rent} and each pays ${food} for food; they split everything "
        f"equally. How much does each pay?",
        f"A party costs ${rent} for the room plus ${food} per guest for {people} guests. Split evenly, what is "
        f"each guest's share?",
    ])  # fmt: skip
    n, f, r = w.given("count", people), w.given("price", food), w.given("money", rent)
    all_food = w.calc("money", f, "*", n, "Food")
    total = w.calc("total", r, "+", all_food, "Everything")
    return question, w.calc("per", total, "/", n, "Each")


def how_many_more(w: Work) -> tuple[str, Quantity]:
    first, second = w.people(2)
    (item,), container = w.items(), w.pick(CONTAINERS)
    a, k1 = w.amount((3, 12), (13, 60)), w.rng.randint(4, 12)
    b, k2 = w.rng.randint(1, 9), w.rng.randint(2, 9)
    while b * k2 >= a * k1:
        a += 1
    question = w.pick([
        f"{first} has {a} {container} of {k1} {item}; {second} has {b} {container} of {k2}. How many more "
        f"{item} does {first} have?",
        f"How many more {item} are in {a} {container} of {k1} than in {b} {container} of {k2}?",
    ])  # fmt: skip
    x, y, u, v = w.given("count", a), w.given("per", k1), w.given("count", b), w.given("per", k2)
    first_total = w.calc("total", x, "*", y, f"In the {a} {container}")
    second_total = w.calc("total", u, "*", v, f"In the {b} {container}")
    return question, w.calc("count", first_total, "-", second_total, "Difference")


def weekly_running(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    weekday, weekend, weeks = w.rng.randint(2, 12), w.rng.randint(3, 25), w.amount((2, 9), (10, 52))
    question = w.pick([
        f"{person} runs {weekday} km on each weekday and {weekend} km on each day of the weekend. How many km "
        f"in {weeks} weeks?",
        f"Every week {person} cycles {weekday} km on each of 5 workdays and {weekend} km on each of 2 weekend "
        f"days. What distance is that over {weeks} weeks?",
    ])  # fmt: skip
    a, b, n = w.given("length", weekday), w.given("length", weekend), w.given("time", weeks)
    workdays = w.calc("length", a, "*", 5, "Weekdays")
    weekend_days = w.calc("length", b, "*", 2, "Weekend")
    week = w.calc("total", workdays, "+", weekend_days, "One week")
    return question, w.calc("total", week, "*", n, "All weeks")


def fraction_spent(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    part = w.rng.randint(2, 6)
    money = part * w.amount((5, 30), (31, 200))
    more = w.rng.randint(1, money - money // part - 1)
    question = w.pick([
        f"{person} has ${money}, spends 1/{part} of it on lunch and then ${more} on a book. How much is left?",
        f"Of ${money}, {person} spends one part in {part} on a ticket and ${more} on snacks. What remains?",
    ])  # fmt: skip
    m, k, s = w.given("money", money), w.given("count", part), w.given("money", more)
    lunch = w.calc("money", m, "/", k, "The first spending")
    after = w.calc("left", m, "-", lunch, "After it")
    return question, w.calc("left", after, "-", s, "Left")


def pens_for_class(w: Work) -> tuple[str, Quantity]:
    person, (item,) = w.people(1)[0], w.items()
    packs, per = w.amount((2, 9), (10, 40)), w.rng.randint(3, 12)
    students = w.rng.randint(1, packs * per - 1)
    question = w.pick([
        f"{person} buys {packs} packs of {per} {item} and gives one to each of {students} students. How many "
        f"{item} are left?",
        f"There are {packs} packs with {per} {item} each. After handing {students} of them out, how many remain?",
    ])  # fmt: skip
    p, e, s = w.given("count", packs), w.given("per", per), w.given("count", students)
    total = w.calc("total", p, "*", e, "In all")
    return question, w.calc("left", total, "-", s, "Left")


def each_gets(w: Work) -> tuple[str, Quantity]:
    (item,) = w.items()
    kids, total = w.rng.randint(3, 12), w.amount((20, 99), (100, 999))
    question = w.pick([
        f"{total} {item} are shared among {kids} children so that each gets the same number and as many as "
        f"possible. How many does each child get?",
        f"If {kids} people split {total} {item} evenly, keeping only whole {item}, how many does each person get?",
    ])  # fmt: skip
    t, k = w.given("count", total), w.given("count", kids)
    return question, w.calc("per", t, "//", k, "Sharing")


def pack_price(w: Work) -> tuple[str, Quantity]:
    (item,) = w.items()
    size, price, packs = w.rng.randint(2, 12), w.rng.randint(2, 40), w.amount((2, 9), (10, 60))
    question = w.pick([
        f"A pack of {size} {item} costs ${price}. How much do {size * packs} {item} cost?",
        f"{item.capitalize()} are sold only in packs of {size} for ${price}. What do {size * packs} {item} cost?",
    ])  # fmt: skip
    s, p, n = w.given("per", size), w.given("price", price), w.given("count", size * packs)
    count = w.calc("count", n, "/", s, "Packs")
    return question, w.calc("total", count, "*", p, "Cost")


def phone_plan(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    base, included, rate = w.rng.randint(10, 60), w.rng.randint(2, 20), w.rng.randint(2, 15)
    used = included + w.amount((1, 9), (10, 60))
    question = w.pick([
        f"{person}'s phone plan costs ${base} a month with {included} GB included and ${rate} for each extra GB. "
        f"{person} uses {used} GB. What is the bill?",
        f"A plan charges ${base} for the first {included} GB and ${rate} per GB after that. How much for {used} GB?",
    ])  # fmt: skip
    b, i, r, u = w.given("money", base), w.given("count", included), w.given("rate", rate), w.given("count", used)
    extra = w.calc("count", u, "-", i, "Extra GB")
    charge = w.calc("money", extra, "*", r, "Extra charge")
    return question, w.calc("total", b, "+", charge, "Bill")


def truck_load(w: Work) -> tuple[str, Quantity]:
    crates, weight, driver = w.amount((2, 12), (13, 90)), w.amount((5, 12), (13, 70)), w.rng.randint(55, 110)
    question = w.pick([
        f"A truck carries {crates} crates of {weight} kg each and a driver who weighs {driver} kg. What is the "
        f"total load in kg?",
        f"{crates} sacks weighing {weight} kg apiece are loaded into a van with its {driver} kg driver. How many "
        f"kg is that?",
    ])  # fmt: skip
    c, k, d = w.given("count", crates), w.given("per", weight), w.given("count", driver)
    cargo = w.calc("total", c, "*", k, "Cargo")
    return question, w.calc("total", cargo, "+", d, "Load")


def temperature(w: Work) -> tuple[str, Quantity]:
    drop, hours, rise = w.rng.randint(1, 6), w.rng.randint(2, 9), w.rng.randint(1, 20)
    start = drop * hours + w.rng.randint(0, 30)
    question = w.pick([
        f"It is {start} degrees. The temperature falls {drop} degrees an hour for {hours} hours and then rises "
        f"{rise} degrees. What is the temperature now?",
        f"A tank's water is at {start} degrees, cools by {drop} degrees each hour for {hours} hours and is then "
        f"heated by {rise} degrees. What is its temperature?",
    ])  # fmt: skip
    s, d, h, r = w.given("count", start), w.given("rate", drop), w.given("time", hours), w.given("count", rise)
    fall = w.calc("total", d, "*", h, "The fall")
    cooled = w.calc("left", s, "-", fall, "After cooling")
    return question, w.calc("total", cooled, "+", r, "Now")


# Held-out templates: new compositions and wordings of the same operations, never in training.


def two_pipes(w: Work) -> tuple[str, Quantity]:
    a, b, leak, minutes = w.rng.randint(3, 20), w.rng.randint(2, 15), w.rng.randint(1, 4), w.amount((2, 9), (10, 60))
    question = w.pick([
        f"Two pipes pour {a} and {b} liters a minute into a pool while a leak drains {leak} liters a minute. "
        f"How many liters are in the empty pool after {minutes} minutes?",
        f"A tub gets {a} L per minute from one tap and {b} L per minute from another, and loses {leak} L per "
        f"minute. How much water is in it after {minutes} minutes, starting empty?",
    ])  # fmt: skip
    x, y, z, t = w.given("rate", a), w.given("rate", b), w.given("rate", leak), w.given("time", minutes)
    inflow = w.calc("rate", x, "+", y, "Inflow per minute")
    net = w.calc("rate", inflow, "-", z, "Net per minute")
    return question, w.calc("total", net, "*", t, "Water")


def tickets_coupon(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    adults, adult_price = w.rng.randint(1, 9), w.amount((8, 12), (13, 45))
    kids, kid_price = w.rng.randint(1, 9), w.rng.randint(3, 12)
    coupon = w.rng.randint(1, adults * adult_price)
    question = w.pick([
        f"{person} buys {adults} adult tickets at ${adult_price} and {kids} child tickets at ${kid_price}, then "
        f"uses a ${coupon} coupon. What does {person} pay?",
        f"Adult passes cost ${adult_price} and child passes ${kid_price}. With a coupon worth ${coupon}, what do "
        f"{adults} adult and {kids} child passes cost?",
    ])  # fmt: skip
    a, p = w.given("count", adults), w.given("price", adult_price)
    k, q, c = w.given("count", kids), w.given("price", kid_price), w.given("money", coupon)
    grown = w.calc("money", a, "*", p, "Adult tickets")
    young = w.calc("money", k, "*", q, "Child tickets")
    both = w.calc("total", grown, "+", young, "Together")
    return question, w.calc("total", both, "-", c, "After the coupon")


def stamp_album(w: Work) -> tuple[str, Quantity]:
    person, (item,) = w.people(1)[0], w.items()
    start, packs, per = w.amount((5, 99), (100, 500)), w.rng.randint(2, 9), w.amount((3, 12), (13, 50))
    given = w.rng.randint(1, start + packs * per - 1)
    question = w.pick([
        f"{person} has {start} {item}, buys {packs} packs of {per}, and then gives away {given}. How many {item} "
        f"does {person} have now?",
        f"Starting with {start} {item}, {person} adds {packs} packs holding {per} each and donates {given}. "
        f"How many are left?",
    ])  # fmt: skip
    s, p, e, g = w.given("count", start), w.given("count", packs), w.given("per", per), w.given("count", given)
    bought = w.calc("total", p, "*", e, "Bought")
    now = w.calc("total", s, "+", bought, "After buying")
    return question, w.calc("left", now, "-", g, "After giving")


def jars_after_eating(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    baked, eaten, per = w.amount((30, 99), (100, 600)), w.rng.randint(1, 20), w.rng.randint(3, 12)
    question = w.pick([
        f"{person} bakes {baked} cookies, eats {eaten}, and packs the rest into jars of {per}. How many jars "
        f"are needed?",
        f"Of {baked} cookies, {eaten} are eaten and the others go into tins that hold {per} each. What is the "
        f"fewest number of tins needed?",
    ])  # fmt: skip
    b, e, p = w.given("count", baked), w.given("count", eaten), w.given("per", per)
    rest = w.calc("left", b, "-", e, "To pack")
    return question, w.calc("count", rest, "ceil", p, "Jars")


def average_speed(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    t1, t2 = w.rng.randint(1, 6), w.rng.randint(1, 6)
    speed = w.rng.randint(20, 90)
    d1 = w.rng.randint(10, speed * (t1 + t2) - 10)
    d2 = speed * (t1 + t2) - d1
    question = w.pick([
        f"{person} cycles {d1} km in {t1} hours and then {d2} km in {t2} hours. What is the average speed in km "
        f"per hour for the whole ride?",
        f"A boat travels {d1} km in {t1} h and {d2} km in {t2} h. What is its average speed over both parts?",
    ])  # fmt: skip
    a, b, c, d = w.given("length", d1), w.given("time", t1), w.given("length", d2), w.given("time", t2)
    distance = w.calc("length", a, "+", c, "Distance")
    hours = w.calc("time", b, "+", d, "Time")
    return question, w.calc("rate", distance, "/", hours, "Average speed")


def percent_then_buy(w: Work) -> tuple[str, Quantity]:
    person, (item,) = w.people(1)[0], w.items()
    pct = w.pick([10, 20, 25, 40, 50])
    start, bought = 20 * w.amount((2, 9), (10, 40)), w.rng.randint(1, 50)
    question = w.pick([
        f"{person} has {start} {item}, gives away {pct}% of them, and then buys {bought} more. How many {item} "
        f"does {person} have?",
        f"After giving {pct} percent of {start} {item} to a friend and buying {bought} new ones, how many "
        f"{item} does {person} own?",
    ])  # fmt: skip
    s, r, b = w.given("count", start), w.given("percent", pct), w.given("count", bought)
    given = w.calc("count", s, "pct", r, "Given away")
    kept = w.calc("left", s, "-", given, "Kept")
    return question, w.calc("total", kept, "+", b, "Now")


def seat_rows(w: Work) -> tuple[str, Quantity]:
    first = w.rng.randint(1, 20)
    last, seats = first + w.rng.randint(2, 30), w.amount((4, 12), (13, 40))
    question = w.pick([
        f"A theater's rows {first} through {last} are reserved, and each row has {seats} seats. How many seats "
        f"are reserved?",
        f"Shelves number {first} to {last}, both included, each hold {seats} books. How many books do they hold?",
    ])  # fmt: skip
    a, b, s = w.given("count", first), w.given("count", last), w.given("per", seats)
    gap = w.calc("count", b, "-", a, "The difference")
    rows = w.calc("count", gap, "+", 1, "Rows, counting both ends")
    return question, w.calc("total", rows, "*", s, "Seats")


def net_savings_target(w: Work) -> tuple[str, Quantity]:
    person = w.people(1)[0]
    earn, spend, start = w.rng.randint(10, 40), w.rng.randint(1, 9), w.rng.randint(0, 50)
    target = start + w.amount((20, 99), (100, 500))
    question = w.pick([
        f"{person} has ${start}, earns ${earn} a week and spends ${spend} of it. After how many weeks does "
        f"{person} have at least ${target}?",
        f"Each week {person} makes ${earn} and spends ${spend}. Starting at ${start}, how many weeks until "
        f"{person} has ${target} or more?",
    ])  # fmt: skip
    s, e, p, t = w.given("money", start), w.given("rate", earn), w.given("rate", spend), w.given("money", target)
    weeks, money = w.name("count"), w.name("money")
    w.code(f"{weeks} = 0", f"{money} = {s.name}", f"while {money} < {t.name}:")
    w.code(f"    {money} = {money} + {e.name} - {p.name}", f"    {weeks} = {weeks} + 1")
    net = w.worked(e, "-", p, "Saved per week")
    gap = w.worked(t, "-", s, "Still needed")
    return question, Quantity(weeks, w.worked(gap, "ceil", net, "Weeks"))


TRAIN: dict[str, Template] = {
    template.__name__: template
    for template in (
        change_from_bill, two_kinds, share_packs, gives_away, weekly_savings, pages_left, two_legs, boxes_needed,
        full_sets, leftovers, discount, raise_pay, strictly_between, inclusive_pages, fence_posts, future_age,
        times_as_many, tiled_floor, fence_cost, wages, overtime, recipe, buses, episodes, profit, average_score,
        doubling, savings_target, halving, dozens, task_minutes, ratio_share, growing_reading, tip, classroom,
        cost_per_person, how_many_more, weekly_running, fraction_spent, pens_for_class, each_gets, pack_price,
        phone_plan, truck_load, temperature,
    )
}  # fmt: skip
HELD_OUT: dict[str, Template] = {
    template.__name__: template
    for template in (
        two_pipes, tickets_coupon, stamp_album, jars_after_eating, average_speed, percent_then_buy, seat_rows,
        net_savings_target,
    )
}  # fmt: skip
