"""The names a params file chooses from, each defined once: params validates against them and
the library code that acts on the choice uses the same constants.

A leaf module (no imports), so that reading params loads none of the code behind the choices.
"""

CELEBA_SOURCES = ("sample", "local", "official", "folder")  # data.celeba.source: facegan.data.sources
CROPS = ("celeba_box", "center_square")  # data.celeba.crop: facegan.data.celeba
# data.celeba.attributes_file, by its suffix: a CSV, or a file in the format of CelebA's list_attr_celeba.txt
# (facegan.data.folder)
CSV_SUFFIX = ".csv"
ATTRIBUTE_FILE_SUFFIXES = (CSV_SUFFIX, ".txt")
FFHQ_SOURCES = ("sample", "local", "official")  # data.ffhq.source: facegan.data.ffhq
# hifacegan.data.degradation: facegan.hifacegan.data (the official HiFaceGAN degradation types)
DEGRADATIONS = ("down", "noise", "blur", "jpeg", "full")

# The 40 attributes of CelebA's list_attr_celeba.txt, in the file's order.
CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald",
    "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair",
    "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks",
    "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)  # fmt: skip
