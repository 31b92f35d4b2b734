"""The words the catalogue's channels and videos are made of: niches and their search keywords.

Every channel has a niche (the topic its identity was drawn with); its description, its playlists
and its videos' titles carry that niche's keyword phrases, the way creators write them, so a
keyword search (``espresso``, ``budget travel``) finds several channels' videos, as it would on
YouTube. Non-Latin channels map their topic word to a niche and use its (English) keywords in
their titles next to their own words, as many creators do.
"""

from __future__ import annotations

# topic -> keyword phrases (lower case, as people type them)
KEYWORDS: dict[str, tuple[str, ...]] = {
    "tech": (
        "smartphone review",
        "budget laptop",
        "mechanical keyboard",
        "smart home",
        "pc build",
        "home lab",
    ),
    "cooking": ("meal prep", "air fryer", "easy dinner", "vegan recipes", "one pot pasta", "street food"),
    "gaming": ("minecraft", "speedrun", "indie games", "lets play", "game review", "open world"),
    "music": ("music production", "cover song", "lofi beats", "songwriting", "home studio", "vocal tips"),
    "travel": ("budget travel", "backpacking", "solo travel", "travel vlog", "digital nomad", "street food"),
    "fitness": (
        "home workout",
        "calisthenics",
        "strength training",
        "weight loss",
        "hiit workout",
        "marathon",
    ),
    "science": (
        "science experiment",
        "physics explained",
        "chemistry",
        "biology",
        "science news",
        "astronomy",
    ),
    "art": ("digital art", "drawing tutorial", "watercolor", "oil painting", "sketchbook", "procreate"),
    "diy": ("diy projects", "home renovation", "3d printing", "home repair", "upcycling", "tool review"),
    "cars": (
        "car detailing",
        "electric vehicles",
        "engine rebuild",
        "car review",
        "track day",
        "project car",
    ),
    "beauty": ("skincare routine", "makeup tutorial", "hair care", "nail art", "drugstore makeup", "glow up"),
    "finance": (
        "personal finance",
        "index funds",
        "budgeting",
        "side hustle",
        "passive income",
        "stock market",
    ),
    "history": (
        "history documentary",
        "ancient rome",
        "world war",
        "medieval",
        "lost civilizations",
        "history",
    ),
    "math": ("math explained", "calculus", "linear algebra", "math puzzles", "geometry", "statistics"),
    "physics": (
        "physics explained",
        "quantum mechanics",
        "relativity",
        "astrophysics",
        "experiments",
        "physics",
    ),
    "crafts": ("knitting", "crochet", "sewing", "paper crafts", "embroidery", "resin art"),
    "garden": (
        "vegetable garden",
        "houseplants",
        "permaculture",
        "container gardening",
        "composting",
        "seed starting",
    ),
    "pets": ("dog training", "cat care", "puppy", "aquarium", "reptiles", "pet care"),
    "comedy": ("sketch comedy", "stand up", "pranks", "parody", "funny moments", "podcast"),
    "news": ("news analysis", "world news", "tech news", "explainer", "politics", "weekly news"),
    "reviews": ("honest review", "product review", "budget gadgets", "tech deals", "worth it", "comparison"),
    "unboxing": ("unboxing", "first impressions", "budget gadgets", "mystery box", "haul", "tech deals"),
    "vlogs": (
        "daily vlog",
        "day in my life",
        "morning routine",
        "family vlog",
        "week in my life",
        "moving vlog",
    ),
    "tutorials": ("step by step", "beginner guide", "how to", "tips and tricks", "crash course", "tutorial"),
    "code": (
        "python tutorial",
        "web development",
        "javascript",
        "coding interview",
        "rust programming",
        "devops",
    ),
    "chess": ("chess openings", "chess puzzles", "blitz chess", "endgame", "grandmaster", "chess tactics"),
    "film": ("film analysis", "movie review", "filmmaking", "cinematography", "video essay", "short film"),
    "anime": ("anime review", "manga", "anime recommendations", "cosplay", "anime news", "studio ghibli"),
    "fishing": (
        "bass fishing",
        "fly fishing",
        "fishing tips",
        "ice fishing",
        "kayak fishing",
        "carp fishing",
    ),
    "woodwork": (
        "woodworking",
        "furniture restoration",
        "hand tools",
        "cutting board",
        "wood turning",
        "workshop",
    ),
    "baking": ("sourdough", "bread baking", "cake decorating", "gluten free baking", "pastry", "cookies"),
    "yoga": (
        "yoga for beginners",
        "morning yoga",
        "stretching routine",
        "meditation",
        "yoga flow",
        "mobility",
    ),
    "drones": ("drone footage", "fpv drone", "drone review", "aerial photography", "drone tips", "cinematic"),
    "retro": ("retro gaming", "game boy", "vintage computers", "arcade", "console restoration", "nes"),
    "lego": ("lego build", "lego review", "lego technic", "lego city", "moc", "speed build"),
    "coffee": ("espresso", "latte art", "pour over", "cold brew", "coffee grinder", "home barista"),
    "camping": (
        "wild camping",
        "van life",
        "ultralight hiking",
        "camping gear",
        "bushcraft",
        "budget travel",
    ),
    "piano": ("piano tutorial", "piano cover", "music theory", "sight reading", "classical piano", "piano"),
    "guitar": (
        "guitar lesson",
        "fingerstyle",
        "guitar cover",
        "blues guitar",
        "guitar gear",
        "acoustic guitar",
    ),
    "space": ("space news", "astronomy", "rocket launch", "mars", "telescope", "james webb"),
}

# The topic words of other scripts' identities, read as the niche they mean.
NATIVE_TOPICS: dict[str, str] = {
    "ゲーム": "gaming",
    "料理": "cooking",
    "旅行": "travel",
    "音楽": "music",
    "猫": "pets",
    "実況": "gaming",
    "日常": "vlogs",
    "科学": "science",
    "釣り": "fishing",
    "鉄道": "travel",
    "Кухня": "cooking",
    "Игры": "gaming",
    "Наука": "science",
    "Музыка": "music",
    "Путешествия": "travel",
    "Авто": "cars",
    "Рыбалка": "fishing",
    "Техника": "tech",
    "مطبخ": "cooking",
    "ألعاب": "gaming",
    "علوم": "science",
    "سفر": "travel",
    "تقنية": "tech",
    "طبخ": "cooking",
    "रसोई": "cooking",
    "संगीत": "music",
    "विज्ञान": "science",
    "यात्रा": "travel",
    "गेमिंग": "gaming",
    "खेती": "garden",
    "요리": "cooking",
    "게임": "gaming",
    "여행": "travel",
    "음악": "music",
    "과학": "science",
    "일상": "vlogs",
}

# Video titles: {k} is a keyword phrase, {K} the same capitalised, {o} another phrase of the niche.
LONG_TITLES = (
    "{K}: what nobody tells you",
    "I tried {k} for 30 days",
    "{K} for beginners (step by step)",
    "{K} mistakes to avoid",
    "My {k} routine",
    "{K} vs {o}: which is better?",
    "The ultimate {k} guide",
    "{K} on a budget",
    "Everything I learned about {k}",
    "{K}, explained in 10 minutes",
    "Why I stopped doing {k}",
    "{K} tier list",
)
SHORT_TITLES = (
    "{K} in 60 seconds #shorts",
    "{K} hack you need #shorts",
    "Wait for it... {k} #shorts",
    "POV: {k} #shorts",
    "{K} fail #shorts",
)
LIVE_TITLES = ("LIVE: {k} Q&A", "{K} livestream", "Late night {k} stream")
PLAYLIST_TITLES = ("{K} for beginners", "Best of {k}", "{K} (full series)", "All my {k} videos")
# Every word the templates above can add to a title or a description, for the search prefilter.
TEMPLATE_TEXT = " ".join(
    (*LONG_TITLES, *SHORT_TITLES, *LIVE_TITLES, *PLAYLIST_TITLES, "episode of 0123456789 # — shorts")
).lower()


def niche_text(topic: str) -> str:
    """Everything a video of this niche may say, folded, beyond its channel's own name."""
    return " ".join((topic, *KEYWORDS[topic], TEMPLATE_TEXT)).lower()
