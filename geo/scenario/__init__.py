"""The scenario generator: synthetic drops with planted truth and nulls."""
