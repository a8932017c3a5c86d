"""Clean German credit applications and write stratified train/validation/test splits.

Runs as a SageMaker Processing script (scikit-learn image): each instance reads its
shard of raw CSV parts from /opt/ml/processing/input/raw, the shared schema from
/opt/ml/processing/input/schema, and writes label-first, header-less CSV (the format
SageMaker's built-in algorithms read) under /opt/ml/processing/output/<split>/.
"""

import json
import os
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

INPUT = Path("/opt/ml/processing/input")
OUTPUT = Path("/opt/ml/processing/output")
TARGET = "creditability"


def main() -> None:
    host = os.environ.get("SM_CURRENT_HOST", "algo-1")
    hosts = json.loads(os.environ.get("SM_HOSTS", '["algo-1"]'))
    schema = json.loads((INPUT / "schema" / "schema.json").read_text())
    parts = sorted((INPUT / "raw").glob("*.csv"))
    print(
        f"{host}: {len(parts)} raw part(s) of {len(hosts)} instance(s): {[p.name for p in parts]}"
    )
    frame = pd.concat([pd.read_csv(p, dtype=str) for p in parts], ignore_index=True)
    rows_in = len(frame)

    frame = frame.apply(lambda column: column.str.strip())
    frame = frame.dropna(subset=[TARGET]).drop_duplicates()
    label = (frame.pop(TARGET) == "bad").astype(int).rename("default")
    numeric = frame[schema["numeric"]].apply(pd.to_numeric, errors="coerce")
    numeric = numeric.fillna(numeric.median())
    categorical = [
        pd.get_dummies(
            pd.Categorical(frame[name], categories=values), prefix=name, dtype=int
        ).set_index(frame.index)
        for name, values in schema["categorical"].items()
    ]
    features = pd.concat([numeric, *categorical], axis=1)
    data = pd.concat([label, features], axis=1)
    print(
        f"{host}: {rows_in} rows in, {len(data)} rows after cleaning, "
        f"{features.shape[1]} features, default rate {label.mean():.3f}"
    )

    seed = 42 + hosts.index(host)
    train, rest = train_test_split(data, test_size=0.3, stratify=data["default"], random_state=seed)
    validation, test = train_test_split(
        rest, test_size=0.5, stratify=rest["default"], random_state=seed
    )
    for split, part in (("train", train), ("validation", validation), ("test", test)):
        folder = OUTPUT / split
        folder.mkdir(parents=True, exist_ok=True)
        part.to_csv(folder / f"part-{host}.csv", header=False, index=False)
        print(f"wrote {len(part)} rows to {split}/part-{host}.csv")
    if host == hosts[0]:
        (OUTPUT / "train" / "columns.json").write_text(json.dumps(list(data.columns)))


if __name__ == "__main__":
    main()
