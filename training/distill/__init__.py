"""Knowledge distillation: a small student with the teacher's heads, trained from its features and outputs."""
