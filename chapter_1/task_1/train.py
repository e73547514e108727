"""Chapter 1, task 1: train a digit classifier from a terminal.

Run it from this folder with ``python train.py``. It trains a random forest on
scikit-learn's digits, prints precision, recall and f1 on a held-out split (one
``name: value`` line each, so chapter 1 task 4 can scrape them with a regex) and
saves the fitted model next to this script.
"""

# TODO: load the digits, hold out a test split, fit a RandomForestClassifier, print "precision: ...",
# "recall: ..." and "f1: ..." (one line each) and save the model under model/ next to this script.
### BEGIN SOLUTION
from pathlib import Path

import joblib
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import train_test_split

SEED = 42
MODEL_DIR = Path(__file__).resolve().parent / "model"

digits = load_digits()
# The label is digits.target; digits.data holds the 64 pixel intensities only.
x_train, x_test, y_train, y_test = train_test_split(
    digits.data, digits.target, test_size=0.2, stratify=digits.target, random_state=SEED
)

model = RandomForestClassifier(n_estimators=100, random_state=SEED, n_jobs=-1)
model.fit(x_train, y_train)

# Macro averages weigh the ten digits equally, whatever their share of the test set.
precision, recall, f1, _ = precision_recall_fscore_support(y_test, model.predict(x_test), average="macro")
print(f"precision: {precision:.4f}")
print(f"recall: {recall:.4f}")
print(f"f1: {f1:.4f}")

MODEL_DIR.mkdir(exist_ok=True)
joblib.dump(model, MODEL_DIR / "model.joblib")
print(f"model saved to {MODEL_DIR / 'model.joblib'}")
### END SOLUTION
