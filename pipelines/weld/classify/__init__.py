"""The whole-image weld classifier: class-labelled images in the database -> a split by video clip
(else by file) -> the plain CNN and the MoE image path on the same split -> held-out report and
two registered ``weld-class`` versions, the better on validation promoted."""
