"""The Classify page's input tabs, one module each (examples, photos and the camera, the
sketch, a test sample); the page itself (ui/pages/classify.py) only arranges the tabs."""
