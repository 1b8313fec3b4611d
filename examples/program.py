# Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.
# How many clips did Natalia sell altogether in April and May?
clips_april = 48
clips_may = clips_april / 2
total_clips = clips_april + clips_may
print(int(total_clips))
