"""Release: action threads, splits, the release folder (public/ and private/), its card, kit and publishing."""
