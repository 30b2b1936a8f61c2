"""Assessment: cards against units for missed deadlines, later the three rates and rankings."""
