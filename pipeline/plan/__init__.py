"""The plan (泉政办〔2022〕25号): its quantified targets (`targets`) and the form lead units report their
activity indicators on (`form`). Shared by the assessments and by the demo generator."""
