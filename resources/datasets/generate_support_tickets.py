"""Writes the demo dataset: support tickets for a thermostat maker, triaged into strict JSON.

The task suits the bundled SmolLM2-135M-Instruct: with the system prompt alone it rarely
answers with exactly the JSON object, the allowed categories and the priority rules;
after fine-tuning on these examples it does (measured on support_tickets_eval.jsonl).

Tickets are assembled from hand-written templates (situation, slot values, greeting,
tone, sign-off), with a seeded random generator, so the files are reproducible:

    python -m resources.datasets.generate_support_tickets

writes support_tickets.jsonl (training data, with tags and review marks) and
support_tickets_eval.jsonl (held-out tickets with format checks for Evaluate). No
ticket is a near duplicate of another (checked with the dataset validator's MinHash).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAIN_FILE = HERE / "support_tickets.jsonl"
EVAL_FILE = HERE / "support_tickets_eval.jsonl"
N_TRAIN, N_EVAL = 160, 60
SEED = 20240611

CATEGORIES = ("billing", "account", "technical", "shipping", "feature_request", "cancellation")
PRIORITIES = ("low", "medium", "high", "urgent")

SYSTEM_PROMPT = (
    "You are the ticket triage assistant for Northwind Home, maker of the Northwind smart "
    "thermostat and its app. Reply with only a JSON object with exactly these keys: "
    '"category" (one of billing, account, technical, shipping, feature_request, cancellation), '
    '"priority" (one of low, medium, high, urgent) and "summary" (one sentence of at most '
    "15 words). Raise the priority one step when the customer is without heating or cooling, "
    "is locked out, or their security is at risk."
)

REPLY_SCHEMA = {
    "type": "object",
    "required": ["category", "priority", "summary"],
    "additionalProperties": False,
    "properties": {
        "category": {"enum": list(CATEGORIES)},
        "priority": {"enum": list(PRIORITIES)},
        "summary": {"type": "string", "minLength": 10, "maxLength": 120},
    },
}

# (category, base priority, ticket text, summary). Slots in {braces} are filled below.
TEMPLATES = [
    (
        "billing",
        "high",
        "I was charged {amount} twice for my {plan} plan this month (order {order}).",
        "Customer was charged twice this month for the {plan} plan.",
    ),
    (
        "billing",
        "medium",
        "My invoice for {month} says {amount}, but the {plan} plan is supposed to cost {amount2}.",
        "The {month} invoice is higher than the {plan} plan price.",
    ),
    (
        "billing",
        "low",
        "Could you send me copies of all my invoices from last year? My accountant needs them.",
        "Customer requests copies of last year's invoices.",
    ),
    (
        "billing",
        "medium",
        "My card expired and the app now says my subscription is past due. Where do I update the card?",
        "Customer must update an expired card on a past-due subscription.",
    ),
    (
        "billing",
        "medium",
        "When I signed up I was promised {percent}% off, but the discount is not on my bill.",
        "The promised {percent}% sign-up discount is missing from the bill.",
    ),
    (
        "billing",
        "low",
        "Why did my monthly price go from {amount2} to {amount}? Nobody told me.",
        "Customer asks why the monthly price increased without notice.",
    ),
    (
        "billing",
        "high",
        "You confirmed my refund {days} days ago and the money still has not arrived.",
        "Confirmed refund has not arrived after {days} days.",
    ),
    (
        "account",
        "high",
        "I can't log in and the password reset email never arrives. I've tried {n} times with {email}.",
        "Password reset email never arrives, so the customer cannot log in.",
    ),
    (
        "account",
        "low",
        "How do I add my {relative} as a second user so they can change the temperature too?",
        "Customer wants to add their {relative} as a second user.",
    ),
    (
        "account",
        "urgent",
        "Someone changed the email address on my account and I did not do it!",
        "Account email was changed without the customer's permission.",
    ),
    (
        "account",
        "low",
        "I'd like to change the email on my account from {email} to my work address.",
        "Customer wants to change the account email address.",
    ),
    (
        "account",
        "high",
        "The two-factor codes never reach my phone anymore and now I'm locked out of the app.",
        "Two-factor codes do not arrive and the customer is locked out.",
    ),
    (
        "account",
        "medium",
        "Please delete my Northwind account and all the data you have about me.",
        "Customer requests deletion of their account and all personal data.",
    ),
    (
        "account",
        "low",
        "I accidentally made two accounts ({email} and another one). Can you merge them?",
        "Customer asks to merge two duplicate accounts.",
    ),
    (
        "technical",
        "high",
        "The thermostat shows error {code} and the heating will not turn on. It is {temp} degrees inside.",
        "Thermostat shows error {code} and the heating will not start.",
    ),
    (
        "technical",
        "medium",
        "The app crashes on my {phone} every time I open the schedule screen.",
        "App crashes on {phone} when the schedule screen is opened.",
    ),
    (
        "technical",
        "medium",
        "Since the last update my thermostat drops off the Wi-Fi every few hours.",
        "Thermostat loses its Wi-Fi connection every few hours since the update.",
    ),
    (
        "technical",
        "low",
        "The temperature on the display is {n} degrees off compared with my other thermometer.",
        "Displayed temperature is {n} degrees off from another thermometer.",
    ),
    (
        "technical",
        "high",
        "After the firmware update last night the thermostat display stays completely blank.",
        "Thermostat display is blank after last night's firmware update.",
    ),
    (
        "technical",
        "medium",
        "The schedules I create in the app never show up on the thermostat itself.",
        "Schedules created in the app do not sync to the thermostat.",
    ),
    (
        "technical",
        "high",
        "The air conditioning keeps running even though I set the thermostat to off, for {hours} hours now.",
        "Cooling keeps running for {hours} hours although the thermostat is off.",
    ),
    (
        "shipping",
        "medium",
        "Order {order} should have arrived {days} days ago and the tracking has not moved since.",
        "Order {order} is {days} days late and tracking has stalled.",
    ),
    (
        "shipping",
        "high",
        "The box arrived crushed and the thermostat screen is cracked.",
        "Thermostat arrived with a cracked screen in a crushed box.",
    ),
    (
        "shipping",
        "medium",
        "I ordered the {model} but the box contains the {model2}.",
        "Customer received the {model2} instead of the ordered {model}.",
    ),
    (
        "shipping",
        "medium",
        "Can you change the delivery address for order {order}? I move to a new flat next week.",
        "Customer wants to change the delivery address of order {order}.",
    ),
    (
        "shipping",
        "low",
        "Do you deliver to {country}? I could not find it in the checkout list.",
        "Customer asks whether Northwind delivers to {country}.",
    ),
    (
        "shipping",
        "high",
        "Tracking for order {order} says delivered, but nothing came and my neighbours have nothing either.",
        "Order {order} is marked delivered but never arrived.",
    ),
    (
        "shipping",
        "low",
        "My package came without the wall plate that the manual says is in the box.",
        "Package arrived without the wall plate.",
    ),
    (
        "feature_request",
        "low",
        "It would be great if the app had a dark mode, it's very bright at night.",
        "Customer requests a dark mode in the app.",
    ),
    (
        "feature_request",
        "low",
        "Please add support for {voice} so I can change the temperature by voice.",
        "Customer requests {voice} voice control support.",
    ),
    (
        "feature_request",
        "low",
        "Could the app export my energy history as a spreadsheet?",
        "Customer requests exporting energy history as a spreadsheet.",
    ),
    (
        "feature_request",
        "low",
        "I would love a holiday mode that I can schedule weeks in advance.",
        "Customer requests a holiday mode scheduled in advance.",
    ),
    (
        "feature_request",
        "low",
        "Can the thermostat use my phone's location to turn the heat down when I leave home?",
        "Customer requests a location-based away mode.",
    ),
    (
        "feature_request",
        "low",
        "Please allow more than {n} schedule blocks per day, I work shifts.",
        "Customer asks for more than {n} daily schedule blocks.",
    ),
    (
        "cancellation",
        "medium",
        "I want to cancel my {plan} subscription because I am moving to {country}.",
        "Customer wants to cancel the {plan} subscription before moving abroad.",
    ),
    (
        "cancellation",
        "high",
        "Cancel my plan right now and stop charging my card.",
        "Customer demands immediate cancellation and no further charges.",
    ),
    (
        "cancellation",
        "medium",
        "How do I send the thermostat back within the {days}-day trial?",
        "Customer wants to return the thermostat within the {days}-day trial.",
    ),
    (
        "cancellation",
        "medium",
        "I'm thinking of cancelling now that the price went up. Do you have a cheaper option?",
        "Customer may cancel over the price increase and asks for cheaper options.",
    ),
    (
        "cancellation",
        "low",
        "What happens to my schedules and history if I cancel the {plan} plan?",
        "Customer asks what happens to their data after cancelling the {plan} plan.",
    ),
]

SLOTS = {
    "amount": ["$4.99", "$9.99", "$14.99", "$19.99", "$24.00", "€12.50", "£8.99"],
    "amount2": ["$3.99", "$7.99", "$9.99", "$12.00", "€9.00", "£6.99"],
    "plan": ["Basic", "Plus", "Family", "Pro", "Energy Saver"],
    "order": [f"NW-{n}" for n in (10482, 23917, 30551, 41266, 50873, 61390, 72045, 88412, 90127)],
    "month": ["January", "February", "March", "April", "May", "June", "September", "October"],
    "percent": ["10", "15", "20", "25", "30"],
    "days": ["5", "7", "10", "12", "14", "21", "30"],
    "email": [
        "maria.k@example.com",
        "j.okafor@example.net",
        "lee.family@example.org",
        "tom_b@example.com",
    ],
    "n": ["2", "3", "4", "5", "6"],
    "relative": ["wife", "husband", "partner", "daughter", "son", "mother", "flatmate"],
    "code": ["E12", "E31", "E45", "H07", "F02"],
    "temp": ["12", "13", "14", "15", "9"],
    "phone": ["iPhone 13", "iPhone 15", "Pixel 7", "Galaxy S22", "Galaxy A54", "OnePlus 11"],
    "hours": ["3", "5", "8", "12"],
    "model": ["Northwind T2", "Northwind T3 Pro", "Northwind Mini"],
    "model2": ["Northwind Sensor Pack", "Northwind T1", "Northwind Mini"],
    "country": ["Canada", "Ireland", "Portugal", "New Zealand", "Norway", "Mexico"],
    "voice": ["Alexa", "Google Assistant", "Siri", "Home Assistant"],
}
GREETINGS = [
    "",
    "Hi,",
    "Hello,",
    "Hi there,",
    "Good morning,",
    "Hello support team,",
    "Hey,",
    "Dear Northwind,",
]
CONTEXT = [
    "",
    "I've had the thermostat for about a year.",
    "I just installed it last week.",
    "This is my second message about this.",
    "My account is under my partner's name.",
    "I'm writing from my phone, sorry for typos.",
    "We have two thermostats in the house.",
]
URGENT_CUES = [
    "We have a baby at home and the house is freezing.",
    "My elderly father lives with us and it is getting very hot.",
    "It is below freezing outside and we have no heat at all.",
]
CALM_CUES = ["No rush at all.", "Whenever you get a chance.", "Not urgent, just curious."]
SIGN_OFFS = [
    "",
    "Thanks,\n{name}",
    "Thank you!",
    "Regards,\n{name}",
    "- {name}",
    "Cheers, {name}",
    "Best, {name}",
]
NAMES = [
    "Maria",
    "Jon",
    "Aisha",
    "Pedro",
    "Lena",
    "Kwame",
    "Yuki",
    "Sam",
    "Priya",
    "Oskar",
    "Fatima",
    "Ben",
]


def _fill(text: str, values: dict) -> str:
    return text.format(**values)


def _shift(priority: str, step: int) -> str:
    index = min(max(PRIORITIES.index(priority) + step, 0), len(PRIORITIES) - 1)
    return PRIORITIES[index]


def make_ticket(rng: random.Random, template_index: int) -> dict:
    """One conversation (system, user ticket, assistant JSON) and its category."""
    category, priority, body, summary = TEMPLATES[template_index]
    values = {slot: rng.choice(options) for slot, options in SLOTS.items()}
    if values["amount"] == values["amount2"]:
        values["amount2"] = "$2.99"
    if values["model"] == values["model2"]:
        values["model2"] = "Northwind Sensor Pack"
    parts = [rng.choice(GREETINGS), rng.choice(CONTEXT), _fill(body, values)]
    # The system prompt's rule: without heating/cooling, locked out, or at risk -> one step up.
    cue = rng.random()
    if category == "technical" and priority != "low" and cue < 0.35:
        parts.append(rng.choice(URGENT_CUES))
        priority = _shift(priority, 1)
    elif priority == "low" and cue < 0.3:
        parts.append(rng.choice(CALM_CUES))
    parts.append(_fill(rng.choice(SIGN_OFFS), {"name": rng.choice(NAMES)}))
    greeting, sign_off = parts[0], parts[-1]
    body_text = " ".join(p for p in parts[1:-1] if p)
    text = "\n".join(p for p in (greeting, body_text, sign_off) if p)
    if rng.random() < 0.12:  # some people type in lowercase, without a greeting
        text = _fill(body, values).lower()
    reply = {"category": category, "priority": priority, "summary": _fill(summary, values)}
    return {
        "category": category,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": text},
            {"role": "assistant", "content": json.dumps(reply)},
        ],
    }


def generate(n_train: int = N_TRAIN, n_eval: int = N_EVAL, seed: int = SEED) -> tuple[list, list]:
    """(training records, eval records): distinct tickets, no two near duplicates."""
    from core.dataset.validation.duplicates import dedup_text, near_duplicate_pairs

    rng = random.Random(seed)
    kept: list[dict] = []
    texts: list[bytes] = []
    attempts = 0
    while len(kept) < n_train + n_eval:
        attempts += 1
        if attempts > 50 * (n_train + n_eval):
            raise RuntimeError("the templates cannot make enough distinct tickets")
        ticket = make_ticket(rng, attempts % len(TEMPLATES))
        text = dedup_text([ticket["messages"][1]["content"]], [ticket["messages"][2]["content"]])
        # Stricter than the validator's 0.8, so the demo dataset validates clean.
        pairs = near_duplicate_pairs([*texts, text], threshold=0.7)
        if any(b == len(texts) for _, b, _ in pairs):
            continue
        kept.append(ticket)
        texts.append(text)
    rng.shuffle(kept)
    train, evaluation = kept[:n_train], kept[n_train:]
    train_records = []
    for index, ticket in enumerate(train):
        studio = {"id": f"ticket-{index + 1:03d}", "tags": [ticket["category"]]}
        if index % 5 != 4:  # most were reviewed by the support lead; some are left to do
            studio["reviewed"] = True
        train_records.append({"messages": ticket["messages"], "finetune_studio": studio})
    eval_records = [
        {
            "id": f"eval-{index + 1:03d}",
            "category": ticket["category"],
            "messages": ticket["messages"],
            "checks": {"valid_json": True, "json_schema": REPLY_SCHEMA},
        }
        for index, ticket in enumerate(evaluation)
    ]
    return train_records, eval_records


def render(records: list[dict]) -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def main() -> int:
    from core.atomic_file import write_text_atomic

    train, evaluation = generate()
    write_text_atomic(TRAIN_FILE, render(train))
    write_text_atomic(EVAL_FILE, render(evaluation))
    print(f"wrote {len(train)} training and {len(evaluation)} eval tickets to {HERE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
