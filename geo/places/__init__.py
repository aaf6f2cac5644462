"""The gazetteer: reference data, postcodes, boundaries, addresses and geocoding."""
