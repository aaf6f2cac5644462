"""Given-name equivalence table for identity resolution.

Each group lists a canonical given name first, then the short forms, pet forms and common
spellings recorded for the same name in English-speaking (mostly UK) records, e.g.
Katherine / Kate / Katie / Kat. A name may sit in more than one group (Alex is short for both
Alexander and Alexandra; Sam for Samuel and Samantha): :func:`name_groups` returns every group
of a name, and two given names are nickname-equivalent when their groups intersect.

The table is hand written from common usage (no external list is downloaded); extend it by
appending to ``GROUPS``. Names are lower-case ASCII letters, as produced by the normaliser in
``network.identity``.
"""
from __future__ import annotations

from functools import lru_cache

GROUPS: tuple[tuple[str, ...], ...] = (
    ("abigail", "abbie", "abby", "abi", "gail"),
    ("adam", "ad"),
    ("adrian", "ade"),
    ("agnes", "aggie", "nessa"),
    ("albert", "bert", "bertie", "al", "alby"),
    ("alexander", "alex", "alec", "alistair", "alasdair", "sandy", "xander", "lex", "ali", "alexandre"),
    ("alexandra", "alex", "alexa", "lexi", "lexie", "sandra", "alix", "ali", "alexandria"),
    ("alfred", "alfie", "alf", "fred", "freddie"),
    ("alice", "ally", "allie", "alicia", "alys"),
    ("amanda", "mandy", "manda"),
    ("amelia", "millie", "amy", "mia", "emilia"),
    ("andrew", "andy", "drew", "andi"),
    ("angela", "angie", "ange"),
    ("anne", "ann", "annie", "anna", "nan", "nancy", "hannah"),
    ("anthony", "tony", "ant", "antony"),
    ("antonia", "toni", "tonia"),
    ("archibald", "archie", "arch"),
    ("arthur", "art", "artie"),
    ("barbara", "barb", "babs", "barbie"),
    ("benjamin", "ben", "benji", "benny", "benjy"),
    ("bernard", "bernie", "barney"),
    ("bethany", "beth", "bethan"),
    ("bradley", "brad"),
    ("callum", "cal", "calum"),
    ("courtney", "court", "corey"),
    ("caroline", "carol", "carrie", "caro", "carolyn"),
    ("catherine", "katherine", "kathryn", "katharine", "kathrine", "cathy", "kathy", "kate",
     "katie", "katy", "kat", "kay", "cat", "cath", "kath", "kitty", "kaitlyn", "caitlin", "katelyn"),
    ("charles", "charlie", "chas", "chuck", "chaz", "carl", "charley"),
    ("charlotte", "charlie", "lottie", "lotte", "charley", "lotti"),
    ("christopher", "chris", "kit", "topher", "christoph", "kristopher", "cristopher"),
    ("christina", "chris", "chrissie", "christine", "tina", "kristina", "kristen", "kirsty", "kirsten"),
    ("clifford", "cliff"),
    ("cornelius", "neil", "con"),
    ("daniel", "dan", "danny", "dani", "dannie"),
    ("danielle", "dani", "elle", "daniela", "daniella"),
    ("david", "dave", "davey", "davy", "dai"),
    ("deborah", "debbie", "debra", "deb", "debs"),
    ("dominic", "dom", "dominik"),
    ("donald", "don", "donnie"),
    ("dorothy", "dot", "dottie", "dolly"),
    ("douglas", "doug", "dougie"),
    ("edward", "ed", "eddie", "ted", "teddy", "ned", "eddy"),
    ("eleanor", "ellie", "elle", "nell", "nellie", "elly", "elinor", "leonora", "nora"),
    ("elizabeth", "liz", "lizzie", "lizzy", "beth", "betty", "bess", "bessie", "eliza", "elsie",
     "libby", "lisa", "liza", "betsy", "elisabeth", "lilibet"),
    ("emily", "em", "emmy", "emma", "emilie", "milly"),
    ("ernest", "ernie"),
    ("eugene", "gene"),
    ("florence", "flo", "florrie", "flossie"),
    ("frances", "fran", "frankie", "fanny", "francesca", "franny"),
    ("francis", "frank", "frankie", "fran"),
    ("frederick", "fred", "freddie", "freddy", "frederic", "fredrick"),
    ("gabriel", "gabe", "gabby"),
    ("gabrielle", "gabby", "gabi", "gabriella"),
    ("geoffrey", "geoff", "jeff", "jeffrey"),
    ("george", "georgie", "geordie"),
    ("georgina", "georgie", "gina", "georgia"),
    ("gerald", "gerry", "jerry", "ged"),
    ("gregory", "greg", "gregg"),
    ("harold", "harry", "hal", "haz"),
    ("harriet", "hattie", "harri", "hetty"),
    ("helen", "nell", "ellen", "helena", "lena"),
    ("henry", "harry", "hal", "hank", "harrison", "hen", "haz", "hazza"),
    ("ibrahim", "ibby", "ibi"),
    ("isabel", "isabella", "isabelle", "izzy", "bella", "belle", "issy", "isobel", "izzie"),
    ("jasmine", "jas", "jaz", "jazz", "yasmin", "yasmine"),
    ("jacob", "jake", "jakob", "jac"),
    ("jacqueline", "jackie", "jacqui", "jacky"),
    ("kacper", "kasper", "casper", "kacpi"),
    ("james", "jim", "jimmy", "jamie", "jimmie", "jem", "jay"),
    ("janet", "jan", "jenny", "netty"),
    ("jane", "janie", "jayne", "jan"),
    ("jennifer", "jen", "jenny", "jenni", "jennie", "jenna"),
    ("jessica", "jess", "jessie", "jessy"),
    ("joanne", "jo", "joanna", "joan", "jojo", "joann"),
    ("john", "jon", "jack", "johnny", "jonny", "johnnie", "ian", "sean", "shaun", "evan"),
    ("jonathan", "jon", "jonny", "johnny", "nathan", "jonathon"),
    ("joseph", "joe", "joey", "jo", "jose"),
    ("josephine", "jo", "josie", "jojo", "josey"),
    ("joshua", "josh"),
    ("judith", "judy", "jude"),
    ("julia", "julie", "jules", "juliet", "juliette"),
    ("kenneth", "ken", "kenny"),
    ("kimberley", "kim", "kimberly", "kimmy"),
    ("laura", "laurie", "lauren", "lori"),
    ("lawrence", "laurence", "larry", "laurie", "lol"),
    ("leonard", "len", "lenny", "leo", "leon"),
    ("lewis", "louis", "lou", "lew", "louie"),
    ("louise", "lou", "louisa", "lulu", "louisa", "lucy"),
    ("lucy", "lucille", "luce", "lucinda", "cindy"),
    ("margaret", "maggie", "meg", "peggy", "marge", "madge", "megan", "greta", "daisy", "margo",
     "rita", "maisie", "mags", "molly", "peg"),
    ("martin", "marty", "mart"),
    ("mary", "molly", "polly", "mae", "may", "maria", "marie", "mamie", "maureen"),
    ("matilda", "tilly", "tillie", "mattie", "maud", "tilda"),
    ("matthew", "matt", "matty", "mat", "mathew"),
    ("maximilian", "max", "maxi"),
    ("maxwell", "max"),
    ("michael", "mike", "mick", "micky", "mickey", "mikey", "mitch", "mikael", "micheal"),
    ("michelle", "shelley", "shelly", "micky", "chelle", "michela"),
    ("mohammed", "muhammad", "mohammad", "mohamed", "muhammed", "mohamad", "mo", "moe"),
    ("natalie", "nat", "tally", "nattie", "natalia", "natasha", "tasha"),
    ("nathaniel", "nat", "nathan", "nate", "natty"),
    ("nicholas", "nick", "nicky", "nico", "nik", "nicolas", "nikolas"),
    ("nicola", "nicky", "nikki", "nicole", "niki", "nicki", "nichola"),
    ("oliver", "ollie", "olly", "ol"),
    ("olivia", "liv", "livvy", "livia", "ollie", "olive"),
    ("patricia", "pat", "patty", "patsy", "trish", "tricia", "trisha"),
    ("patrick", "pat", "paddy", "patty", "rick"),
    ("penelope", "penny", "pen", "nell"),
    ("peter", "pete", "petey"),
    ("philip", "phil", "pip", "phillip", "philly"),
    ("rachel", "rach", "rae", "rachael"),
    ("rebecca", "becky", "becca", "bex", "beck", "becki", "rebekah"),
    ("richard", "rich", "rick", "ricky", "dick", "richie", "rico", "ritchie"),
    ("robert", "rob", "robbie", "bob", "bobby", "bert", "robin", "bobbie"),
    ("roberta", "bobbie", "robyn", "bertie"),
    ("ronald", "ron", "ronnie"),
    ("rosemary", "rose", "rosie", "rosa", "rosa", "roz"),
    ("simran", "simi", "sim"),
    ("samantha", "sam", "sammy", "sammie"),
    ("samuel", "sam", "sammy", "sammie"),
    ("sarah", "sara", "sally", "sadie", "sal", "sarai"),
    ("sebastian", "seb", "bastian", "sebby"),
    ("sophia", "sophie", "sofia", "soph", "sofie"),
    ("stephanie", "steph", "stevie", "steff", "stefanie"),
    ("stephen", "steve", "stevie", "steven", "stevo", "stephan", "stefan"),
    ("susan", "sue", "susie", "suzy", "suzanne", "susanna", "susannah", "sukie"),
    ("terence", "terry", "tel", "terrence"),
    ("theodore", "theo", "ted", "teddy"),
    ("thomas", "tom", "tommy", "thom", "tomos", "tam"),
    ("timothy", "tim", "timmy"),
    ("tobias", "toby", "tobi"),
    ("valerie", "val"),
    ("victoria", "vicky", "vicki", "tori", "vic", "vikki", "toria"),
    ("vincent", "vince", "vinny", "vin"),
    ("walter", "walt", "wally"),
    ("william", "will", "bill", "billy", "willie", "willy", "liam", "wills", "billie"),
    ("zachary", "zach", "zack", "zak", "zac"),
    ("zoe", "zoey", "zoë"),
)


@lru_cache(maxsize=1)
def name_index() -> dict[str, tuple[int, ...]]:
    """Map every name in ``GROUPS`` to the indices of the groups that contain it (ordered)."""
    index: dict[str, list[int]] = {}
    for gid, group in enumerate(GROUPS):
        for name in group:
            slot = index.setdefault(name, [])
            if gid not in slot:
                slot.append(gid)
    return {name: tuple(gids) for name, gids in index.items()}


def name_groups(name: str) -> tuple[int, ...]:
    """Group indices of a normalised given name; empty when the name is not in the table."""
    return name_index().get(name, ())


def are_nicknames(a: str, b: str) -> bool:
    """True when two normalised given names share a group (e.g. ``kate`` and ``katherine``)."""
    return bool(set(name_groups(a)) & set(name_groups(b)))
