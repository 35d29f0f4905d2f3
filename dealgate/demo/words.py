"""Word lists for demo names and texts. Every company, person and phone number here is made up.

E-mail domains end in `.example` and phone numbers use the 555-01xx block, both reserved for
fiction, so demo data never points at a real company or person.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Elena", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Karin", "Luca",
    "Maya", "Nils", "Olivia", "Pablo", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera", "Wim", "Xenia",
    "Yusuf", "Zoe", "Amir", "Beatrice", "Carlos", "Dana", "Emil", "Freya", "Gabriel", "Hanna", "Ivan",
    "Julia", "Kofi", "Lena", "Marco", "Nora", "Oskar", "Priya", "Rafael", "Sofia", "Theo", "Ula", "Viktor",
    "Wendy", "Yara", "Zara",
)

LAST_NAMES = (
    "Adler", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ivanova", "Jensen",
    "Kowalski", "Lambert", "Moreau", "Novak", "Okafor", "Petersen", "Quinto", "Rossi", "Schmidt", "Tanaka",
    "Urban", "Vidal", "Weber", "Young", "Zimmer", "Almeida", "Brandt", "Castillo", "Dahl", "Engel", "Ferrari",
    "Gruber", "Holm", "Ito", "Jovanovic", "Keller", "Lindqvist", "Meyer", "Nielsen", "Ortega",
)

COMPANY_PREFIXES = (
    "Northwind", "Bluefield", "Ironbridge", "Silverline", "Redwood", "Brightwater", "Oakridge", "Stonegate",
    "Westbrook", "Clearpath", "Highmoor", "Greenvale", "Sunhaven", "Blackrock", "Riverside", "Eastgate",
    "Kingsway", "Meadowlark", "Copperleaf", "Fairhaven", "Granite", "Harbor", "Lakeshore", "Maplewood",
    "Nordlicht", "Orchid", "Pinecrest", "Quarry", "Rosewood", "Summit", "Tidewater", "Upland", "Vantage",
    "Windmill", "Yellowstone", "Zephyr", "Alder", "Beacon", "Cedar", "Driftwood",
)

COMPANY_TRADES = (
    "Logistics", "Foods", "Systems", "Health", "Engineering", "Retail", "Energy", "Pharma", "Textiles",
    "Analytics", "Construction", "Media", "Hotels", "Packaging", "Robotics", "Insurance", "Dental", "Labs",
    "Motors", "Furniture", "Software", "Farms", "Optics", "Plastics",
)

COMPANY_FORMS = ("GmbH", "Ltd", "SA", "Inc", "BV", "AB", "Group", "AG", "SRL", "Oy", "& Co", "plc")

CITIES = (
    "Berlin", "Lyon", "Leeds", "Porto", "Gdansk", "Utrecht", "Malmo", "Turin", "Graz", "Tampere", "Ghent",
    "Bilbao", "Brno", "Aarhus", "Cork", "Basel",
)

JOB_TITLES = (
    "Head of Operations", "CFO", "IT Director", "Procurement Manager", "VP Sales", "COO", "Purchasing Lead",
    "Plant Manager", "CEO", "Finance Director", "Project Lead", "Office Manager", "Category Manager",
    "Head of Supply Chain",
)

OFFERS = (
    "Platform licence", "Analytics add-on", "Pilot project", "Team expansion", "Enterprise rollout",
    "Support upgrade", "Integration project", "Multi-site licence", "Data migration", "Training package",
)

DISTRIBUTOR_OFFERS = (
    "Stocking order", "New product line", "Seasonal order", "Private label range", "Spare parts contract",
    "Regional listing", "Reorder", "Promotion bundle",
)

NEXT_STEPS = (
    "Call to confirm the budget owner", "Send the revised proposal", "Book a demo with their IT team",
    "Follow up on open questions", "Agree the pilot scope", "Schedule the pricing call", "Send a case study",
    "Confirm the delivery slot", "Check reorder quantities", "Get legal feedback on the contract",
    "Introduce our solution engineer", "Review the order forecast together",
)

EVIDENCE = (
    "confirmed by the buyer on the call of {date}",
    "written in the buyer's e-mail of {date}",
    "agreed in the meeting of {date}",
    "stated by our champion on {date}; notes in the deal",
    "confirmed in writing on {date}",
)

ACTIVITY_SUBJECTS = {
    "call": ("Intro call", "Follow-up call", "Check-in call", "Call about next steps", "Pricing call"),
    "email": ("Sent follow-up", "Shared case study", "Answered questions", "Sent meeting notes", "Sent proposal"),
    "meeting": ("Discovery meeting", "Solution walkthrough", "On-site visit", "Steering meeting", "Workshop"),
    "note": ("Account research", "Internal note", "Competitor intel", "Org chart notes"),
    "task": ("Prepare proposal", "Update order forecast", "Prepare demo", "Check stock levels"),
}

# Outcomes a logged activity usually has; the first one is what a criterion means by default.
ACTIVITY_OUTCOMES = {
    "call": ("connected", "no_answer", "left_voicemail"),
    "email": ("sent", "replied"),
    "meeting": ("held", "no_show"),
    "note": ("",),
    "task": ("done",),
}

LOST_NOTES = ("", "", "", "Went with the incumbent.", "Budget frozen until next year.", "Champion left the company.",
              "Project cancelled.", "Price gap too large.")
