"""Synthetic names and the ways agencies mis-record them (scenario generator).

Fictional people only: given and family names are drawn independently from common-name lists
reflecting Birmingham's population, so no generated person is a real individual. The record
variants model what identity resolution must undo (Fellegi & Sunter 1969 style linkage errors):
nicknames (Katherine/Kate), keyboard typos, transposed given/family names, day/month transposed
dates of birth, case changes. All functions are vectorised over numpy arrays / pandas Series.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

FEMALE = np.array([
    "Katherine", "Elizabeth", "Jessica", "Rebecca", "Samantha", "Victoria", "Abigail", "Olivia", "Amelia",
    "Chloe", "Megan", "Bethany", "Courtney", "Shannon", "Jasmine", "Leah", "Paige", "Holly", "Ellie", "Lauren",
    "Aisha", "Fatima", "Maryam", "Zainab", "Amira", "Hafsa", "Sana", "Ayesha", "Simran", "Priya", "Harpreet",
    "Jodie", "Kayleigh", "Demi", "Tia", "Precious", "Grace", "Nia", "Abena", "Kelsey", "Natalie", "Alexandra",
    "Gabriella", "Josephine", "Margaret", "Christina", "Danielle", "Nicole", "Stephanie", "Zara", "Maya",
    "Agnieszka", "Roxana", "Shanice", "Tanisha", "Rhianna", "Kiera", "Sophie", "Emily", "Charlotte",
])
MALE = np.array([
    "Thomas", "William", "Joshua", "Daniel", "Matthew", "Benjamin", "Alexander", "Christopher", "Jonathan",
    "Nathaniel", "Samuel", "Jacob", "Callum", "Connor", "Tyler", "Kyle", "Jordan", "Liam", "Reece", "Ryan",
    "Mohammed", "Muhammad", "Ibrahim", "Yusuf", "Hamza", "Bilal", "Imran", "Zain", "Harjeet", "Arjun",
    "Kwame", "Tyrone", "Jamal", "Marcus", "Andre", "Kacper", "Jakub", "Michael", "Anthony", "Robert",
    "Richard", "Nicholas", "Jamie", "Lewis", "Aaron", "Dylan", "Kieran", "Ethan", "Harry", "Oliver",
])
FAMILY = np.array([
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson", "Roberts",
    "Walker", "Wright", "Robinson", "Thompson", "White", "Hughes", "Edwards", "Green", "Hall", "Wood", "Harris",
    "Lewis", "Martin", "Jackson", "Clarke", "Clark", "Turner", "Hill", "Scott", "Cooper", "Morris", "Ward",
    "Moore", "King", "Watson", "Baker", "Harrison", "Morgan", "Patel", "Young", "Allen", "Mitchell", "James",
    "Anderson", "Phillips", "Lee", "Bell", "Parker", "Davis", "Khan", "Ahmed", "Hussain", "Ali", "Begum",
    "Akhtar", "Mahmood", "Iqbal", "Rashid", "Shah", "Malik", "Butt", "Mirza", "Uddin", "Miah", "Rahman",
    "Singh", "Kaur", "Sandhu", "Gill", "Dhillon", "Sharma", "Campbell", "Francis", "Brooks", "Grant", "Reid",
    "Stewart", "Henry", "Osei", "Mensah", "Okafor", "Adeyemi", "Mohamed", "Abdi", "Nowak", "Kowalski",
    "Wisniewski", "Murphy", "Kelly", "Walsh", "O'Brien", "McCarthy", "Doyle", "Byrne", "Lynch", "Fitzgerald",
    "Richards", "Simpson", "Marshall", "Chapman", "Collins", "Bennett", "Shaw", "Lloyd", "Griffiths", "Powell",
    "Palmer", "Holmes", "Mills", "Rogers", "Barnes", "Knight", "Matthews", "Fisher", "Dixon", "Hunt", "Graham",
    "Mason", "Webb", "Cole", "Ellis", "Owen", "Gordon", "Kennedy", "Wallace", "Ferguson", "Rose", "Rees",
])
NICKNAMES = {
    "Katherine": "Kate", "Elizabeth": "Lizzie", "Jessica": "Jess", "Rebecca": "Becky", "Samantha": "Sam",
    "Victoria": "Vicky", "Abigail": "Abbie", "Olivia": "Liv", "Amelia": "Millie", "Bethany": "Beth",
    "Courtney": "Court", "Jasmine": "Jas", "Natalie": "Nat", "Alexandra": "Alex", "Gabriella": "Gabby",
    "Josephine": "Jo", "Margaret": "Maggie", "Christina": "Chrissie", "Danielle": "Dani", "Stephanie": "Steph",
    "Charlotte": "Charlie", "Simran": "Simi", "Thomas": "Tom", "William": "Will", "Joshua": "Josh",
    "Daniel": "Dan", "Matthew": "Matt", "Benjamin": "Ben", "Alexander": "Alex", "Christopher": "Chris",
    "Jonathan": "Jon", "Nathaniel": "Nate", "Samuel": "Sam", "Jacob": "Jake", "Mohammed": "Mo",
    "Muhammad": "Mo", "Ibrahim": "Ibby", "Michael": "Mike", "Anthony": "Tony", "Robert": "Bob",
    "Richard": "Rich", "Nicholas": "Nick", "Kacper": "Kasper", "Oliver": "Ollie", "Harry": "Haz",
}
STREET_NAMES = np.array(["Taz", "Bigz", "Smokey", "Ace", "Kash", "Jay", "Ricky", "Dee", "Snoop", "Rocco", "Zee"])
ETHNICITY = np.array([
    "White British", "White - Other", "Asian/Asian British - Pakistani", "Asian/Asian British - Bangladeshi",
    "Asian/Asian British - Indian", "Black/Black British - Caribbean", "Black/Black British - African",
    "Mixed - White and Black Caribbean", "Mixed - Other", "Other ethnic group", "Not stated",
])
ETHNICITY_P = np.array([0.42, 0.05, 0.14, 0.04, 0.04, 0.07, 0.06, 0.08, 0.04, 0.03, 0.03])


def given_names(rng: np.random.Generator, female: np.ndarray) -> np.ndarray:
    """Given names by sex (bool array, True = female)."""
    f = FEMALE[rng.integers(0, len(FEMALE), female.size)]
    m = MALE[rng.integers(0, len(MALE), female.size)]
    return np.where(female, f, m)


def family_names(rng: np.random.Generator, n: int) -> np.ndarray:
    return FAMILY[rng.integers(0, len(FAMILY), n)]


def nickname(names: pd.Series) -> pd.Series:
    """Common short form where one exists, else the name unchanged."""
    return names.map(NICKNAMES).fillna(names)


def typo(rng: np.random.Generator, s: pd.Series) -> pd.Series:
    """One keyboard error per value: adjacent transposition, dropped or doubled letter.

    Vectorised by grouping on the (few) error positions; values shorter than 4 characters are
    left unchanged.
    """
    s = s.astype("string")
    n = len(s)
    if n == 0:
        return s
    kind = rng.integers(0, 3, n)
    pos = rng.integers(1, 5, n)
    out = s.copy()
    ok = (s.str.len() >= 4).fillna(False).to_numpy() & (pos < s.str.len().fillna(0).to_numpy() - 1)
    for p in range(1, 5):
        for k in range(3):
            m = ok & (pos == p) & (kind == k)
            if not m.any():
                continue
            v = s[m]
            if k == 0:
                out[m] = v.str[:p] + v.str[p + 1] + v.str[p] + v.str[p + 2:]
            elif k == 1:
                out[m] = v.str[:p] + v.str[p + 1:]
            else:
                out[m] = v.str[:p + 1] + v.str[p] + v.str[p + 1:]
    return out


def swap_day_month(dob: pd.Series) -> pd.Series:
    """Date of birth with day and month transposed where that gives a different valid date."""
    d = pd.to_datetime(dob)
    ok = (d.dt.day <= 12) & (d.dt.day != d.dt.month)
    swapped = pd.to_datetime(pd.DataFrame({"year": d.dt.year, "month": d.dt.day.where(ok, d.dt.month),
                                           "day": d.dt.month.where(ok, d.dt.day)}))
    return swapped
