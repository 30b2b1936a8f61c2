"""The knowledge base: curated answers, temporary notices and instant answers (秒答)."""
